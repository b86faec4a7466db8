//! The benchmark's command line: which benchmark, and its bounds.
//!
//! ```text
//! approdo-bench                 the case log and projections (phases 1-3)
//! approdo-bench e2e [--clients N] [--seconds S] [--runs R] [--people P] [--mode M]
//! approdo-bench million [--events N] [--clients N] [--people P] [--mode M] [--samples K]
//! ```
//!
//! `--mode` is `always` (`sync_interval: always`), `default` (the server's
//! default sync) or `both` (e2e: default first, then always).

use anyhow::{Context, Result, bail};
use nats_test_server::Durability;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Phases 1-3: the case log and projections against raw NATS and sled.
    Micro,
    /// Phases 2 and 3 only: the projections against the sled baseline.
    Projections,
    /// List pages read from a projection's index, against a raw sled page read.
    Lists,
    E2e(E2e),
    Million(Million),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct E2e {
    /// Concurrent gRPC clients (and raw publishes in flight) at load.
    pub clients: usize,
    /// Seconds of each measured run.
    pub seconds: u64,
    /// Runs of each measurement; figures are their medians.
    pub runs: usize,
    /// People in each landing a client runs.
    pub people: u32,
    pub modes: Vec<Durability>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Million {
    /// Commits in the log at the last measurement; the others are at a hundredth and a tenth of it.
    pub events: u64,
    /// Clients filling the log over gRPC.
    pub clients: usize,
    pub people: u32,
    pub mode: Durability,
    /// Reads timed for each read figure.
    pub samples: usize,
}

impl Default for E2e {
    fn default() -> E2e {
        E2e {
            clients: 64,
            seconds: 10,
            runs: 3,
            people: 8,
            modes: vec![Durability::ServerDefault, Durability::Always],
        }
    }
}

impl Default for Million {
    fn default() -> Million {
        Million {
            events: 100_000,
            clients: 64,
            people: 8,
            mode: Durability::ServerDefault,
            samples: 500,
        }
    }
}

impl Million {
    /// Where figures are taken: at a hundredth and a tenth of the events, and at all of them.
    pub fn checkpoints(&self) -> [u64; 3] {
        [self.events / 100, self.events / 10, self.events]
    }
}

pub const USAGE: &str = "usage: approdo-bench [micro | projections | lists | e2e [--clients N] [--seconds S] [--runs R] \
[--people P] [--mode always|default|both] | million [--events N] [--clients N] [--people P] \
[--mode always|default] [--samples K]]";

pub fn parse(args: &[String]) -> Result<Command> {
    let Some((first, rest)) = args.split_first() else {
        return Ok(Command::Micro);
    };
    match first.as_str() {
        "micro" | "projections" | "lists" => {
            if let Some(extra) = rest.first() {
                bail!("unknown option {extra}");
            }
            Ok(match first.as_str() {
                "projections" => Command::Projections,
                "lists" => Command::Lists,
                _ => Command::Micro,
            })
        }
        "e2e" => {
            let mut e2e = E2e::default();
            for (flag, value) in pairs(rest)? {
                match flag {
                    "--clients" => e2e.clients = positive(flag, value)?,
                    "--seconds" => e2e.seconds = positive(flag, value)?,
                    "--runs" => e2e.runs = positive(flag, value)?,
                    "--people" => e2e.people = positive(flag, value)?,
                    "--mode" => {
                        e2e.modes = match value {
                            "both" => vec![Durability::ServerDefault, Durability::Always],
                            other => vec![mode(other)?],
                        }
                    }
                    other => bail!("unknown option {other} for e2e"),
                }
            }
            Ok(Command::E2e(e2e))
        }
        "million" => {
            let mut million = Million::default();
            for (flag, value) in pairs(rest)? {
                match flag {
                    "--events" => million.events = positive(flag, value)?,
                    "--clients" => million.clients = positive(flag, value)?,
                    "--people" => million.people = positive(flag, value)?,
                    "--samples" => million.samples = positive(flag, value)?,
                    "--mode" => million.mode = mode(value)?,
                    other => bail!("unknown option {other} for million"),
                }
            }
            if million.events < 100 {
                bail!("--events: at least 100");
            }
            Ok(Command::Million(million))
        }
        other => bail!("unknown benchmark {other}"),
    }
}

/// `--flag value` pairs.
fn pairs(args: &[String]) -> Result<Vec<(&str, &str)>> {
    let mut out = Vec::new();
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        if !flag.starts_with("--") {
            bail!("unexpected {flag}");
        }
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        out.push((flag.as_str(), value.as_str()));
    }
    Ok(out)
}

fn positive<T>(flag: &str, value: &str) -> Result<T>
where
    T: std::str::FromStr + Default + PartialEq,
{
    let n: T = value
        .parse()
        .ok()
        .with_context(|| format!("{flag}: a number, not {value:?}"))?;
    if n == T::default() {
        bail!("{flag}: more than 0");
    }
    Ok(n)
}

fn mode(value: &str) -> Result<Durability> {
    match value {
        "always" => Ok(Durability::Always),
        "default" => Ok(Durability::ServerDefault),
        other => bail!("--mode: always or default (or both for e2e), not {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn no_argument_runs_the_micro_benchmark() {
        assert_eq!(parse(&[]).expect("parsed"), Command::Micro);
        assert_eq!(parse(&args("micro")).expect("parsed"), Command::Micro);
        assert_eq!(
            parse(&args("projections")).expect("parsed"),
            Command::Projections
        );
        assert_eq!(parse(&args("lists")).expect("parsed"), Command::Lists);
        assert!(parse(&args("lists --now")).is_err());
    }

    #[test]
    fn e2e_defaults_and_options() {
        assert_eq!(
            parse(&args("e2e")).expect("parsed"),
            Command::E2e(E2e::default())
        );
        let Command::E2e(e2e) = parse(&args(
            "e2e --clients 8 --seconds 3 --runs 1 --people 4 --mode always",
        ))
        .expect("parsed") else {
            panic!("not e2e");
        };
        assert_eq!(
            e2e,
            E2e {
                clients: 8,
                seconds: 3,
                runs: 1,
                people: 4,
                modes: vec![Durability::Always],
            }
        );
        let Command::E2e(both) = parse(&args("e2e --mode both")).expect("parsed") else {
            panic!("not e2e");
        };
        assert_eq!(both.modes, [Durability::ServerDefault, Durability::Always]);
    }

    #[test]
    fn million_defaults_checkpoints_and_options() {
        let Command::Million(default) = parse(&args("million")).expect("parsed") else {
            panic!("not million");
        };
        assert_eq!(default.events, 100_000);
        assert_eq!(default.checkpoints(), [1_000, 10_000, 100_000]);
        let Command::Million(million) =
            parse(&args("million --events 1000000 --mode always --samples 50")).expect("parsed")
        else {
            panic!("not million");
        };
        assert_eq!(million.checkpoints(), [10_000, 100_000, 1_000_000]);
        assert_eq!(million.mode, Durability::Always);
        assert_eq!(million.samples, 50);
    }

    #[test]
    fn refuses_what_it_does_not_know() {
        for bad in [
            "e2e --clients",
            "e2e --clients 0",
            "e2e --clients many",
            "e2e --mode sometimes",
            "e2e --speed 3",
            "e2e 64",
            "million --mode both",
            "million --events 50",
            "micro --runs 3",
            "benchmark",
        ] {
            assert!(parse(&args(bad)).is_err(), "{bad}");
        }
    }
}
