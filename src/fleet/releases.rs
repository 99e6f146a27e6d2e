//! The release each channel's runners should run: what GetLatestVersion
//! answers, and what a runner is outdated against.

use std::collections::HashMap;

use anyhow::bail;

/// A runner release: what GetLatestVersion answers for a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub version: String,
    pub image: String,
}

/// `CHANNEL=VERSION[,IMAGE]` pairs; CHANNEL is stable or latest.
pub fn parse(pairs: &[String]) -> anyhow::Result<HashMap<i32, Release>> {
    let how = "write it like stable=2026.11.1 or latest=2026.12.0,ghcr.io/acme/runner:2026.12.0";
    pairs
        .iter()
        .map(|pair| {
            let (channel, release) = pair
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("--runner-release {pair:?} is not CHANNEL=VERSION[,IMAGE]: {how}"))?;
            let channel = match channel
                .trim()
                .to_ascii_lowercase()
                .trim_start_matches("runner_release_channel_")
            {
                "stable" => 1,
                "latest" => 2,
                _ => bail!("--runner-release {pair:?}: the channel is stable or latest; {how}"),
            };
            let (version, image) = release.split_once(',').unwrap_or((release, ""));
            if version.trim().is_empty() {
                bail!("--runner-release {pair:?} names no version: {how}");
            }
            let release = Release {
                version: version.trim().to_owned(),
                image: image.trim().to_owned(),
            };
            Ok((channel, release))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_read_channel_version_and_image() {
        let releases = parse(&["stable=1.2.3".into(), "LATEST=2.0.0,ghcr.io/acme/runner:2.0.0".into()]).unwrap();
        assert_eq!(releases[&1].version, "1.2.3");
        assert_eq!(releases[&1].image, "");
        assert_eq!(releases[&2].image, "ghcr.io/acme/runner:2.0.0");
        assert!(parse(&["nightly=1".into()]).is_err());
        assert!(parse(&["stable=".into()]).is_err());
        assert!(parse(&["1.2.3".into()]).is_err());
    }
}
