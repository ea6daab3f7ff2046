//! Who is at work: a process is named `host:pid` in job locks and runs, so
//! that a later process on the same host can tell one that is gone (killed,
//! crashed) from one still running.

/// This process's name, `host:pid`.
pub fn this_process() -> String {
    format!("{}:{}", host_name(), std::process::id())
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".to_owned())
}

/// Whether `name` (see [`this_process`]) is a process on this host that no
/// longer runs. A process on another host is never known to be gone.
pub fn is_gone(name: &str) -> bool {
    let Some((host, pid)) = name.rsplit_once(':') else {
        return false;
    };
    let proc = std::path::Path::new("/proc");
    host == host_name()
        && proc.join("self").exists()
        && pid.parse::<u32>().is_ok()
        && !proc.join(pid).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_not_gone_and_a_dead_pid_is() {
        assert!(!is_gone(&this_process()));
        let host = this_process().rsplit_once(':').unwrap().0.to_owned();
        // Above the kernel's pid_max: no process has it.
        assert!(is_gone(&format!("{host}:99999999")));
        assert!(!is_gone("elsewhere:99999999"), "another host's process");
        assert!(!is_gone("not a process name"));
    }
}
