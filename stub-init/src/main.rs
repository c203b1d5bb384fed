//! spawnbox-init: a tiny static PID 1 for spawnbox containers, initramfs images and boards.
//!
//! Release builds are `no_std` with musl's crt1 calling our C `main`; unwinding builds
//! (debug, `cargo test`) link std, because core is precompiled for unwinding. See
//! docs/STUB-INIT.md for the design.
#![cfg_attr(all(not(test), panic = "abort"), no_std)]
#![cfg_attr(not(test), no_main)]
#![deny(unsafe_code)]
#![cfg_attr(test, allow(dead_code))]

mod args;
mod cli;
mod container;
mod ctl;
mod deadline;
mod exec;
mod host;
mod init;
mod mode;
mod mountinfo;
mod net;
mod out;
mod reap;
mod shutdown;
mod signals;
mod spawn;
mod sys;

#[cfg(not(test))]
use core::ffi::{c_char, c_int};

/// The C entry point; musl's crt1 (`_start` → `__libc_start_main`) calls it.
#[cfg(not(test))]
#[allow(unsafe_code)]
#[no_mangle]
extern "C" fn main(_argc: c_int, argv: *const *const c_char, envp: *const *const c_char) -> c_int {
    // SAFETY: the kernel's argv and envp arrays, NULL-terminated and alive until exit.
    let (argv, envp) = unsafe { (args::CArray::new(argv), args::CArray::new(envp)) };
    sys::exit(init::run(argv, envp))
}

/// A panic must not leave PID 1 hanging half-way: end at once. (The code avoids panicking
/// paths; this is the last resort.)
#[cfg(all(not(test), panic = "abort"))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    out::Line::new().s(b"internal error").emit();
    sys::exit(255)
}

// musl's crt1 calls __libc_start_main, which lives in libc.a; without std nothing else
// asks for libc, so link it here.
#[cfg(all(not(test), panic = "abort"))]
#[allow(unsafe_code)]
#[cfg_attr(target_env = "musl", link(name = "c", kind = "static", modifiers = "-bundle"))]
#[cfg_attr(not(target_env = "musl"), link(name = "c"))]
extern "C" {}
