//! Views of the argv and envp arrays that crt1 hands to `main`, and environment lookups.
//!
//! The arrays are used in place: the payload is exec'd with a pointer into our own argv, and
//! (in container mode) with our own envp, so nothing is copied or allocated.
#![allow(unsafe_code)]

use core::ffi::{c_char, CStr};

/// A NULL-terminated array of C strings (argv or envp), as the kernel laid it out.
#[derive(Clone, Copy)]
pub struct CArray {
    ptr: *const *const c_char,
    len: usize,
}

impl CArray {
    /// Wrap `argv`/`envp` from `main`.
    ///
    /// # Safety
    /// `ptr` must be NULL or point to a NULL-terminated array of NUL-terminated strings that
    /// live for the rest of the process (true for the arrays the kernel builds at exec).
    pub unsafe fn new(ptr: *const *const c_char) -> CArray {
        let mut len = 0;
        if !ptr.is_null() {
            // SAFETY: the array is NULL-terminated (caller's contract).
            while !unsafe { *ptr.add(len) }.is_null() {
                len += 1;
            }
        }
        CArray { ptr, len }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Entry `i`, if there is one.
    pub fn get(&self, i: usize) -> Option<&'static CStr> {
        if i >= self.len {
            return None;
        }
        // SAFETY: i < len, so the entry is a valid non-NULL string pointer (see `new`).
        Some(unsafe { CStr::from_ptr(*self.ptr.add(i)) })
    }

    /// Entry `i` as bytes, or an empty slice.
    pub fn bytes(&self, i: usize) -> &'static [u8] {
        self.get(i).map(CStr::to_bytes).unwrap_or(b"")
    }

    /// The entries as byte strings.
    pub fn iter(&self) -> impl Iterator<Item = &'static [u8]> + '_ {
        (0..self.len).map(|i| self.bytes(i))
    }

    /// The NULL-terminated sub-array starting at entry `i` (for execve's argv).
    pub fn tail_ptr(&self, i: usize) -> *const *const c_char {
        if i > self.len || self.ptr.is_null() {
            return core::ptr::null();
        }
        // SAFETY: i <= len stays inside the array (the NULL terminator included).
        unsafe { self.ptr.add(i) }
    }

    /// The raw array (for execve's envp).
    pub fn as_ptr(&self) -> *const *const c_char {
        self.ptr
    }
}

/// The value of `NAME=value` among `entries`.
pub fn lookup<'a>(entries: impl Iterator<Item = &'a [u8]>, name: &[u8]) -> Option<&'a [u8]> {
    for e in entries {
        if e.len() > name.len() && e.starts_with(name) && e.get(name.len()) == Some(&b'=') {
            return e.get(name.len() + 1..);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_finds_exact_names() {
        let env: [&[u8]; 4] = [b"PATHX=no", b"PATH=/bin:/usr/bin", b"container=", b"TERM=linux"];
        assert_eq!(lookup(env.iter().copied(), b"PATH"), Some(&b"/bin:/usr/bin"[..]));
        assert_eq!(lookup(env.iter().copied(), b"container"), Some(&b""[..]));
        assert_eq!(lookup(env.iter().copied(), b"TER"), None);
        assert_eq!(lookup(env.iter().copied(), b"HOME"), None);
    }

    #[test]
    fn carray_walks_a_c_array() {
        let a = c"a";
        let b = c"bc";
        let arr = [a.as_ptr(), b.as_ptr(), core::ptr::null()];
        // SAFETY: a NULL-terminated array of static strings.
        let v = unsafe { CArray::new(arr.as_ptr()) };
        assert_eq!(v.len(), 2);
        assert_eq!(v.bytes(1), b"bc");
        assert_eq!(v.get(2), None);
        assert_eq!(v.iter().count(), 2);
        assert_eq!(v.tail_ptr(1), arr[1..].as_ptr());
        // SAFETY: NULL is allowed.
        let empty = unsafe { CArray::new(core::ptr::null()) };
        assert_eq!(empty.len(), 0);
        assert!(empty.tail_ptr(0).is_null());
    }
}
