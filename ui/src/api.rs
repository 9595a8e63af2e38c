//! One typed async function per shell command, named like the command and generated from the
//! command table of `ipc-types` (`ipc_types::with_commands!`); pages call these, never [`ipc`]
//! directly. Every function fails with the command's [`IpcError`]; see [`ipc::invoke`]. The live
//! channel has none: it is opened by [`ipc::subscribe`].

#[allow(unused_imports)]
use ipc_types::*;

use crate::ipc;

/// One function for a command of the table; nothing for the `live` one.
macro_rules! api_fn {
    (live $($rest:tt)*) => {};
    ($kind:ident $(#[$doc:meta])* $spec:ident $name:ident () -> $out:ty) => {
        $(#[$doc])*
        pub async fn $name() -> Result<$out, IpcError> {
            ipc::invoke::<$spec>(&NoArgs {}).await
        }
    };
    ($kind:ident $(#[$doc:meta])* $spec:ident $name:ident ($args:ty) -> $out:ty) => {
        $(#[$doc])*
        pub async fn $name(args: $args) -> Result<$out, IpcError> {
            ipc::invoke::<$spec>(&args).await
        }
    };
}

macro_rules! api_fns {
    ($( $(#[$doc:meta])* $kind:ident $spec:ident = $name:ident ( $($args:ty)? ) -> $out:ty; )*) => {
        $( api_fn!($kind $(#[$doc])* $spec $name ($($args)?) -> $out); )*
    };
}

with_commands!(api_fns);
