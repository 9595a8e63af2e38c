//! The logic of each feature, free of I/O: from the parameters an agent reported to the DTOs the
//! UI shows, and from the user's intent to the parameters to set. Unit-tested on plain data; the
//! `home` module does the requests.
