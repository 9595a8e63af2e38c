fn main() {
    usp_home_ui::start();
}
