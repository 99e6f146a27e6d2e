//! The fleet as a console reads it: an organization's runners counted by
//! state, and listed with the state a person reads (INACTIVE split by how
//! long), their version against their channel's release and their region,
//! filtered in the database and in keyset pages.
//!
//! Derived states are conditions on stored columns (phase, inactive_since,
//! release channel and reported version), so a filter on them is a WHERE
//! clause over the organization's index ranges, never a scan in memory.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::extension::postgres::PgExpr;
use sea_orm::sea_query::{Expr, LikeExpr};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::entities::runner;
use super::query::keyset_scoped;
use super::runners::{Runner, phase};
use crate::base::error::Result;
use crate::base::pagination::Page;

use runner::Column as C;

/// A release: the channels that follow it (gitpod.v1.RunnerReleaseChannel
/// numbers) and its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub channels: Vec<i32>,
    pub version: String,
}

/// What deriving a runner's fleet state and drift needs: one organization,
/// the time before which INACTIVE counts as stale, and the releases.
#[derive(Debug, Clone)]
pub struct FleetView {
    pub organization_id: Uuid,
    pub stale_before: DateTime<Utc>,
    pub releases: Vec<Release>,
}

/// A runner's state as a person reads it (paddock.v1.FleetState).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    NeverConnected,
    Active,
    Degraded,
    Inactive,
    Stale,
    Deleting,
}

/// A runner's version against its channel's release (paddock.v1.VersionDrift).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Drift {
    UpToDate,
    Outdated,
    /// No version reported, or no release for its channel.
    Unknown,
}

impl FleetView {
    pub fn state_of(&self, r: &Runner) -> State {
        match r.phase {
            phase::CREATED => State::NeverConnected,
            phase::ACTIVE => State::Active,
            phase::DEGRADED => State::Degraded,
            phase::INACTIVE => match r.inactive_since {
                Some(since) if since < self.stale_before => State::Stale,
                _ => State::Inactive,
            },
            // DELETED rows are on their way out of the table
            _ => State::Deleting,
        }
    }

    /// The release the runner's channel follows.
    pub fn release_of(&self, r: &Runner) -> Option<&str> {
        self.releases
            .iter()
            .find(|release| release.channels.contains(&r.release_channel))
            .map(|release| release.version.as_str())
    }

    pub fn drift_of(&self, r: &Runner) -> Drift {
        match self.release_of(r) {
            _ if r.status_version.is_empty() => Drift::Unknown,
            None => Drift::Unknown,
            Some(version) if version == r.status_version => Drift::UpToDate,
            Some(_) => Drift::Outdated,
        }
    }

    fn state_condition(&self, state: State) -> Condition {
        let in_phase = |p: i32| Condition::all().add(C::Phase.eq(p));
        match state {
            State::NeverConnected => in_phase(phase::CREATED),
            State::Active => in_phase(phase::ACTIVE),
            State::Degraded => in_phase(phase::DEGRADED),
            State::Deleting => Condition::any().add(C::Phase.is_in([phase::DELETING, phase::DELETED])),
            State::Stale => in_phase(phase::INACTIVE).add(C::InactiveSince.lt(self.stale_before)),
            State::Inactive => in_phase(phase::INACTIVE).add(
                Condition::any()
                    .add(C::InactiveSince.is_null())
                    .add(C::InactiveSince.gte(self.stale_before)),
            ),
        }
    }

    fn drift_condition(&self, drift: Drift) -> Condition {
        match drift {
            Drift::UpToDate => self.releases.iter().fold(Condition::any(), |any, release| {
                any.add(
                    Condition::all()
                        .add(C::ReleaseChannel.is_in(release.channels.iter().copied()))
                        .add(C::StatusVersion.eq(release.version.as_str())),
                )
            }),
            Drift::Outdated => self
                .releases
                .iter()
                .fold(Condition::any(), |any, release| any.add(outdated_for(release))),
            Drift::Unknown => {
                let followed = self.releases.iter().flat_map(|r| r.channels.iter().copied());
                Condition::any()
                    .add(C::StatusVersion.eq(""))
                    .add(C::ReleaseChannel.is_not_in(followed))
            }
        }
    }
}

/// Runners of the release's channels reporting another version: the
/// `outdated` count and the OUTDATED filter alike.
fn outdated_for(release: &Release) -> Condition {
    Condition::all()
        .add(C::ReleaseChannel.is_in(release.channels.iter().copied()))
        .add(C::StatusVersion.ne(""))
        .add(C::StatusVersion.ne(release.version.as_str()))
}

/// The region a runner reports, or the one configured until it reports one.
pub fn region_of(r: &Runner) -> &str {
    region(&r.status_region, &r.region)
}

fn region<'a>(reported: &'a str, configured: &'a str) -> &'a str {
    if reported.is_empty() { configured } else { reported }
}

/// Which runners a fleet list shows; empty fields do not narrow it. Its
/// `Debug` form is canonical (sorted, deduplicated) once `canonical` ran, so
/// a page token binds to it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FleetFilter {
    pub states: Vec<State>,
    pub providers: Vec<i32>,
    pub regions: Vec<String>,
    pub drift: Option<Drift>,
    pub search: Option<Search>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Search {
    Id(Uuid),
    /// A part of the name, ignoring case (SQLite's LIKE: the case of ASCII
    /// letters only; PostgreSQL's ILIKE: of every letter).
    NameContains(String),
}

impl FleetFilter {
    pub fn canonical(mut self) -> Self {
        self.states.sort_unstable();
        self.states.dedup();
        self.providers.sort_unstable();
        self.providers.dedup();
        self.regions.sort_unstable();
        self.regions.dedup();
        self
    }
}

/// `%`, `_` and the escape character itself match literally.
fn like_contains(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// The query behind `list` (the query-plan test explains it), for `backend`.
pub fn list_query(
    view: &FleetView,
    filter: &FleetFilter,
    page: Page,
    backend: DbBackend,
) -> sea_orm::Select<runner::Entity> {
    let mut query = runner::Entity::find().filter(C::OrganizationId.eq(view.organization_id));
    if !filter.states.is_empty() {
        let any = filter
            .states
            .iter()
            .fold(Condition::any(), |any, s| any.add(view.state_condition(*s)));
        query = query.filter(any);
    }
    if !filter.providers.is_empty() {
        query = query.filter(C::Provider.is_in(filter.providers.iter().copied()));
    }
    if !filter.regions.is_empty() {
        let regions = || filter.regions.iter().map(String::as_str);
        query = query.filter(
            Condition::any().add(C::StatusRegion.is_in(regions())).add(
                Condition::all()
                    .add(C::StatusRegion.eq(""))
                    .add(C::Region.is_in(regions())),
            ),
        );
    }
    if let Some(drift) = filter.drift {
        query = query.filter(view.drift_condition(drift));
    }
    match &filter.search {
        Some(Search::Id(id)) => query = query.filter(C::Id.eq(*id)),
        Some(Search::NameContains(text)) => {
            // SQLite's LIKE ignores ASCII case; PostgreSQL's LIKE ignores
            // none, its ILIKE every letter's. (PostgreSQL's escape character
            // is the backslash already — and sea-query would parenthesize an
            // ESCAPE after ILIKE into a syntax error.)
            let name = Expr::col((runner::Entity, C::Name));
            let pattern = like_contains(text);
            query = query.filter(match backend {
                DbBackend::Postgres => name.ilike(LikeExpr::new(pattern)),
                _ => name.like(LikeExpr::new(pattern).escape('\\')),
            })
        }
        None => {}
    }
    keyset_scoped(query, C::OrganizationId, view.organization_id, C::Id, page)
}

/// One page of the organization's runners that `filter` lets through, in
/// creation order, plus one extra row when a further page exists.
pub async fn list(
    db: &impl ConnectionTrait,
    view: &FleetView,
    filter: &FleetFilter,
    page: Page,
) -> Result<Vec<Runner>> {
    Ok(list_query(view, filter, page, db.get_database_backend())
        .all(db)
        .await?)
}

/// The regions of the organization's runners (as `region_of`), sorted: read
/// from the (organization, reported region, configured region) index alone.
pub async fn regions(db: &impl ConnectionTrait, organization_id: Uuid) -> Result<Vec<String>> {
    let pairs: Vec<(String, String)> = regions_query(organization_id).into_tuple().all(db).await?;
    let mut regions: Vec<String> = pairs
        .into_iter()
        .map(|(reported, configured)| region(&reported, &configured).to_owned())
        .filter(|r| !r.is_empty())
        .collect();
    regions.sort_unstable();
    regions.dedup();
    Ok(regions)
}

/// The query behind `regions`.
pub fn regions_query(organization_id: Uuid) -> sea_orm::Select<runner::Entity> {
    runner::Entity::find()
        .select_only()
        .columns([C::StatusRegion, C::Region])
        .filter(C::OrganizationId.eq(organization_id))
        .distinct()
}

/// An organization's runners counted by state (see paddock.v1.FleetService).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FleetCounts {
    pub total: i64,
    pub by_phase: [(i32, i64); 6],
    pub stale: i64,
    pub outdated: i64,
}

impl FleetCounts {
    pub fn in_phase(&self, phase: i32) -> i64 {
        self.by_phase.iter().find(|(p, _)| *p == phase).map_or(0, |(_, n)| *n)
    }
}

/// The queries behind `counts`, built once (the query-plan test
/// explains them).
pub struct FleetQueries {
    /// Runners by phase: phase and count.
    pub by_phase: sea_orm::Select<runner::Entity>,
    /// INACTIVE since before the threshold.
    pub stale: sea_orm::Select<runner::Entity>,
    /// Per release: the runners of its channels reporting another version.
    pub outdated: Vec<sea_orm::Select<runner::Entity>>,
}

pub fn count_queries(view: &FleetView) -> FleetQueries {
    let of_org = runner::Entity::find().filter(C::OrganizationId.eq(view.organization_id));
    FleetQueries {
        by_phase: of_org
            .clone()
            .select_only()
            .column(C::Phase)
            // COUNT(*), not COUNT(id): the phase index alone answers it
            .column_as(Expr::cust("COUNT(*)"), "count")
            .group_by(C::Phase),
        stale: of_org.clone().filter(view.state_condition(State::Stale)),
        outdated: view
            .releases
            .iter()
            .map(|release| of_org.clone().filter(outdated_for(release)))
            .collect(),
    }
}

/// The organization's runners by phase (one grouped count), stale, and
/// reporting a version other than their channel's release — index ranges of
/// the organization's own (idx_runners_org_phase, idx_runners_org_channel_version).
pub async fn counts(db: &impl ConnectionTrait, view: &FleetView) -> Result<FleetCounts> {
    use sea_orm::{FromQueryResult, PaginatorTrait};
    #[derive(FromQueryResult)]
    struct Count {
        phase: i32,
        count: i64,
    }
    let queries = count_queries(view);
    let grouped = queries.by_phase.into_model::<Count>().all(db).await?;
    let mut counts = FleetCounts::default();
    for (slot, phase) in counts.by_phase.iter_mut().zip([
        phase::CREATED,
        phase::INACTIVE,
        phase::ACTIVE,
        phase::DELETING,
        phase::DELETED,
        phase::DEGRADED,
    ]) {
        *slot = (phase, 0);
    }
    for Count { phase, count } in grouped {
        counts.total += count;
        if let Some(slot) = counts.by_phase.iter_mut().find(|(p, _)| *p == phase) {
            slot.1 = count;
        }
    }
    counts.stale = queries.stale.count(db).await? as i64;
    for outdated in queries.outdated {
        counts.outdated += outdated.count(db).await? as i64;
    }
    Ok(counts)
}
