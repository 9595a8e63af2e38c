//! `impl Home` for the Guest page: find the guest network (EasyMesh `Type`, `IsolationEnable`,
//! or the user's mark), switch it, share it as `WIFI:` text + QR code, set a new passphrase.

pub mod rules;

use ipc_types::{GuestEnable, GuestMark, GuestPassphrase, GuestView, Topic};

use crate::agent_io::{check_instance, set_params};
use crate::guest::rules as logic;
use crate::home::{AppError, AppResult, GuestMarkData, Home};
use crate::qr;
use crate::wifi::rules as wifi_logic;
use crate::wifi::Loaded;

fn no_guest() -> AppError {
    AppError::NotFound("No guest network was found. Mark one of your networks as the guest network first.".into())
}

impl Home {
    /// The view from loaded networks.
    fn guest_view(&self, nets: &[Loaded]) -> GuestView {
        let (list, found) = self.find_guest(nets);
        let Some(found) = found else {
            return GuestView {
                network: None,
                source: None,
                share_text: None,
                qr_svg: None,
                passphrase_hidden: false,
                candidates: logic::candidates(&list).into_iter().map(|i| nets[i].dto(false)).collect(),
                not_offered: self.not_offering("WiFi"),
            };
        };
        let main = &nets[found.main];
        let open = main.net.security.as_deref().is_some_and(|m| m.eq_ignore_ascii_case("None"));
        // The passphrase: read from the agent, else one this app set (on any sibling).
        let pass = main.net.passphrase.clone().or_else(|| {
            found.siblings.iter().find_map(|&i| self.known_passphrase(&nets[i].agent, &nets[i].net.ssid_path))
        });
        let share_text = if open || pass.is_some() {
            Some(qr::wifi_share_text(
                &main.net.ssid,
                pass.as_deref(),
                main.net.security.as_deref().unwrap_or("WPA2-Personal"),
                main.net.hidden,
            ))
        } else {
            None
        };
        GuestView {
            network: Some(main.dto(true)),
            source: Some(found.source),
            qr_svg: share_text.as_deref().map(qr::svg),
            share_text,
            passphrase_hidden: !open && pass.is_none(),
            candidates: Vec::new(),
            not_offered: self.not_offering("WiFi"),
        }
    }

    /// `guest`: the guest network, how it was found, and what to share.
    ///
    /// # Errors
    /// None in practice (agents that fail are left out).
    pub async fn guest(&self) -> AppResult<GuestView> {
        self.within(crate::home::COMMAND_DEADLINE, None, self.guest_inner()).await
    }

    async fn guest_inner(&self) -> AppResult<GuestView> {
        let nets = self.all_networks().await;
        Ok(self.guest_view(&nets))
    }

    /// `guest_enable`: switches the guest network (every radio and agent carrying it: SSID
    /// `Enable`, and AccessPoint `Enable` where there is one) on or off.
    ///
    /// # Errors
    /// [`AppError::NotFound`] without a guest network; agent errors in words.
    pub async fn guest_enable(&self, args: GuestEnable) -> AppResult<GuestView> {
        self.within(crate::home::COMMAND_DEADLINE, None, self.guest_enable_inner(args)).await
    }

    async fn guest_enable_inner(&self, args: GuestEnable) -> AppResult<GuestView> {
        let nets = self.all_networks().await;
        let (_, found) = self.find_guest(&nets);
        let found = found.ok_or_else(no_guest)?;
        let v = if args.enabled { "true" } else { "false" };
        for &i in &found.siblings {
            let l = &nets[i];
            let conn = self.conn(&l.agent).await?;
            let mut params = vec![(format!("{}.Enable", l.net.ssid_path), v.to_owned())];
            if let Some(ap) = &l.net.ap_path {
                params.push((format!("{ap}.Enable"), v.to_owned()));
            }
            set_params(&conn, &params, "switch the guest network").await?;
        }
        self.changed(&[Topic::Guest, Topic::Wifi, Topic::Mesh]);
        self.guest().await
    }

    /// `guest_passphrase`: a new passphrase for the guest network (kept in the vault so it can
    /// be shared even when the agent hides it).
    ///
    /// # Errors
    /// [`AppError::InvalidInput`] for a bad passphrase; [`AppError::NotFound`]; agent errors.
    pub async fn guest_passphrase(&self, args: GuestPassphrase) -> AppResult<GuestView> {
        self.within(crate::home::COMMAND_DEADLINE, None, self.guest_passphrase_inner(args)).await
    }

    async fn guest_passphrase_inner(&self, args: GuestPassphrase) -> AppResult<GuestView> {
        wifi_logic::check_passphrase(&args.passphrase).map_err(AppError::InvalidInput)?;
        let nets = self.all_networks().await;
        let (_, found) = self.find_guest(&nets);
        let found = found.ok_or_else(no_guest)?;
        let mut done = 0;
        for &i in &found.siblings {
            let l = &nets[i];
            if l.net.ap_path.is_none() {
                continue;
            }
            let params =
                wifi_logic::passphrase_params(&l.net, &args.passphrase, None).map_err(AppError::InvalidInput)?;
            let conn = self.conn(&l.agent).await?;
            set_params(&conn, &params, "change the guest password").await?;
            self.remember_passphrase(&l.agent, &l.net.ssid_path, &args.passphrase);
            done += 1;
        }
        if done == 0 {
            return Err(AppError::Unsupported("The guest network has no access point to set a password on.".into()));
        }
        self.changed(&[Topic::Guest, Topic::Wifi]);
        self.guest().await
    }

    /// `guest_mark`: the user says which network is for guests.
    ///
    /// # Errors
    /// [`AppError::NotFound`] when that network does not exist (any more).
    pub async fn guest_mark(&self, args: GuestMark) -> AppResult<GuestView> {
        let who = args.agent.clone();
        self.within(crate::home::COMMAND_DEADLINE, Some(&who), self.guest_mark_inner(args)).await
    }

    async fn guest_mark_inner(&self, args: GuestMark) -> AppResult<GuestView> {
        check_instance(&args.ssid_path, "Device.WiFi.SSID.")?;
        let nets = self.all_networks().await;
        if !nets.iter().any(|l| l.agent == args.agent && l.net.ssid_path == args.ssid_path) {
            return Err(AppError::NotFound("That WiFi network no longer exists.".into()));
        }
        self.store().update(|d| {
            d.guest = Some(GuestMarkData { agent: args.agent.clone(), ssid_path: args.ssid_path.clone() })
        })?;
        self.changed(&[Topic::Guest, Topic::Wifi]);
        Ok(self.guest_view(&nets))
    }
}
