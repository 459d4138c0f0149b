//! How the exporter asks glibc's allocator to hold memory: set once at start, and freed memory
//! handed back after each encoding. Measured at 10,000 cadences in docs/performance.md.
//!
//! On other C libraries (musl, in static builds) both calls do nothing.

/// Sets glibc's allocator up for a long-lived process whose large buffers are replaced every
/// collection. Call first thing in `main`, before any thread starts: arenas are made per thread
/// on first contention.
///
/// - The mmap threshold stays at glibc's default of 128 KiB. glibc otherwise raises it to the
///   largest buffer freed (up to 32 MiB), after which the megabyte buffers of a collection (page
///   bodies, encoded parts, inflated plain text) come from arena heaps that keep freed memory:
///   at 10,000 cadences, 50 MiB resident instead of 30.
/// - At most two arenas instead of eight per core: every thread's arena keeps its own free
///   memory, and the exporter allocates little outside collections. At 10,000 cadences,
///   resident memory sampled for 15 s after a long load was 17.6 MiB with two arenas (17.0 with
///   one) against 18.4 to 20.0 MiB without the limit, at the same scrape throughput.
pub fn configure() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const M_MMAP_THRESHOLD: std::ffi::c_int = -3;
        const M_ARENA_MAX: std::ffi::c_int = -8;
        static CONFIGURED: std::sync::Once = std::sync::Once::new();
        // SAFETY: mallopt only changes how glibc's allocator obtains and returns memory; it has
        // no preconditions and may be called from any thread at any time.
        CONFIGURED.call_once(|| unsafe {
            glibc::mallopt(M_MMAP_THRESHOLD, 128 * 1024);
            glibc::mallopt(M_ARENA_MAX, 2);
        });
    }
}

/// Hands the memory that glibc's heaps hold free back to the system; called after each
/// encoding, when the previous collection's buffers have just been freed.
pub(crate) fn release_freed() {
    configure(); // for library users (tests, benches) that did not go through `main`
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory to the system; it has no preconditions.
    unsafe {
        glibc::malloc_trim(0);
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod glibc {
    extern "C" {
        pub fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
        pub fn malloc_trim(pad: usize) -> std::ffi::c_int;
    }
}
