//! Every list query is served by an index: no table scan, whatever the
//! filters (EXPLAIN on the real database; PostgreSQL with sequential scans
//! discouraged, so that a small table still shows whether an index fits).

use paddock::base::pagination::Page;
use paddock::store;
use sea_orm::{ConnectionTrait, DatabaseBackend, QueryTrait, Statement, TransactionTrait};
use uuid::Uuid;

use crate::harness::*;

async fn plan(server: &TestServer, stmt: Statement) -> String {
    let db = &server.state.db;
    let backend = db.get_database_backend();
    let sql = stmt.to_string();
    match backend {
        DatabaseBackend::Sqlite => {
            let rows = db
                .query_all(Statement::from_string(backend, format!("EXPLAIN QUERY PLAN {sql}")))
                .await
                .unwrap();
            rows.iter()
                .map(|r| r.try_get::<String>("", "detail").unwrap())
                .collect::<Vec<_>>()
                .join("\n")
        }
        _ => {
            let txn = db.begin().await.unwrap();
            txn.execute_unprepared("SET LOCAL enable_seqscan = off").await.unwrap();
            let rows = txn
                .query_all(Statement::from_string(backend, format!("EXPLAIN {sql}")))
                .await
                .unwrap();
            txn.commit().await.unwrap();
            rows.iter()
                .map(|r| r.try_get::<String>("", "QUERY PLAN").unwrap())
                .collect::<Vec<_>>()
                .join("\n")
        }
    }
}

fn scans_a_table(plan: &str) -> bool {
    plan.lines().any(|line| {
        let line = line.trim();
        // SQLite: "SCAN runners" without an index; PostgreSQL: "Seq Scan on runners"
        (line.starts_with("SCAN ") && !line.contains("USING")) || line.contains("Seq Scan")
    })
}

#[tokio::test]
async fn list_queries_use_indexes() {
    let server = TestServer::start().await;
    let backend = server.state.db.get_database_backend();
    let org = server.admin.organization_id;
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let first = Page { after: None, size: 26 };
    let later = Page {
        after: Some(a),
        size: 101,
    };

    use store::environment_classes::EnvironmentClassFilter;
    use store::host_tokens::HostTokenFilter;
    use store::llm_integrations::LlmIntegrationFilter;
    use store::runners::RunnerFilter;
    use store::scm_integrations::ScmIntegrationFilter;
    let runner_filters = [
        RunnerFilter {
            organization_id: org,
            ..Default::default()
        },
        RunnerFilter {
            organization_id: org,
            creator_ids: vec![a, b],
            ..Default::default()
        },
        RunnerFilter {
            organization_id: org,
            kinds: vec![1],
            ..Default::default()
        },
        RunnerFilter {
            organization_id: org,
            providers: vec![1, 2],
            ..Default::default()
        },
        RunnerFilter {
            organization_id: org,
            only: Some(a),
            ..Default::default()
        },
    ];
    let mut queries: Vec<(String, Statement)> = Vec::new();
    for (i, f) in runner_filters.iter().enumerate() {
        for page in [first, later] {
            queries.push((
                format!("runners #{i}"),
                store::runners::list_query(f, page).build(backend),
            ));
        }
    }
    queries.push((
        "runner policies".into(),
        store::policies::list_query(a, later).build(backend),
    ));
    let scope = |runner_ids: Vec<uuid::Uuid>| store::query::RunnerScope {
        organization_id: org,
        only_runner: None,
        runner_ids,
    };
    let class_filters = [
        EnvironmentClassFilter {
            scope: scope(vec![]),
            ..Default::default()
        },
        EnvironmentClassFilter {
            scope: scope(vec![a]),
            ..Default::default()
        },
        EnvironmentClassFilter {
            scope: scope(vec![]),
            enabled: Some(true),
            ..Default::default()
        },
        EnvironmentClassFilter {
            scope: scope(vec![]),
            enabled: Some(true),
            usable_runners_only: true,
            runner_kinds: vec![2],
            ..Default::default()
        },
    ];
    for (i, f) in class_filters.iter().enumerate() {
        queries.push((
            format!("environment classes #{i}"),
            store::environment_classes::list_query(f, later).build(backend),
        ));
    }
    for (i, f) in [
        ScmIntegrationFilter {
            organization_id: org,
            ..Default::default()
        },
        ScmIntegrationFilter {
            organization_id: org,
            runner_ids: vec![a, b],
            only_runner: None,
        },
    ]
    .iter()
    .enumerate()
    {
        queries.push((
            format!("scm integrations #{i}"),
            store::scm_integrations::list_query(f, later).build(backend),
        ));
    }
    for (i, f) in [
        HostTokenFilter {
            organization_id: org,
            ..Default::default()
        },
        HostTokenFilter {
            organization_id: org,
            only_subject: Some(a),
            ..Default::default()
        },
        HostTokenFilter {
            organization_id: org,
            runner_id: Some(b),
            ..Default::default()
        },
    ]
    .iter()
    .enumerate()
    {
        queries.push((
            format!("host tokens #{i}"),
            store::host_tokens::list_query(f, later).build(backend),
        ));
    }
    let llm = LlmIntegrationFilter {
        organization_id: org,
        runner_ids: vec![a],
        only_runner: None,
    };
    queries.push((
        "llm integrations".into(),
        store::llm_integrations::list_query(&llm, later).build(backend),
    ));
    // the audit log, by each of its filters, both orders
    use store::audit::AuditFilter;
    let audit_filters = [
        AuditFilter {
            organization_id: org,
            newest_first: true,
            ..Default::default()
        },
        AuditFilter {
            organization_id: org,
            actor_ids: vec![a],
            ..Default::default()
        },
        AuditFilter {
            organization_id: org,
            subject_ids: vec![a, b],
            newest_first: true,
            ..Default::default()
        },
        AuditFilter {
            organization_id: org,
            subject_types: vec![2],
            ..Default::default()
        },
        AuditFilter {
            organization_id: org,
            actor_principals: vec![3],
            from: Some(chrono::Utc::now()),
            newest_first: true,
            ..Default::default()
        },
    ];
    for (i, f) in audit_filters.iter().enumerate() {
        queries.push((
            format!("audit log #{i}"),
            store::audit::list_query(f, later).build(backend),
        ));
    }

    // groups: by organization, ids, and without the holders of a runner's policies
    for (i, f) in [
        store::groups::GroupFilter {
            organization_id: org,
            ..Default::default()
        },
        store::groups::GroupFilter {
            organization_id: org,
            group_ids: vec![a, b],
            without_policy_on: Some(a),
            ..Default::default()
        },
    ]
    .iter()
    .enumerate()
    {
        queries.push((
            format!("groups #{i}"),
            store::groups::list_query(f, later).build(backend),
        ));
    }

    for (i, f) in [
        store::policies::AssignmentFilter {
            organization_id: org,
            ..Default::default()
        },
        store::policies::AssignmentFilter {
            organization_id: org,
            group_id: Some(a),
            user_id: Some(b),
            runner_ids: vec![a],
            roles: vec![1],
        },
    ]
    .iter()
    .enumerate()
    {
        queries.push((
            format!("role assignments #{i}"),
            store::policies::assignments_query(f, later).build(backend),
        ));
    }
    queries.push((
        "group members".into(),
        store::groups::members_query(a, later).build(backend),
    ));
    for (i, f) in [
        store::org_roles::OrgRoleFilter {
            organization_id: org,
            ..Default::default()
        },
        store::org_roles::OrgRoleFilter {
            organization_id: org,
            group_id: Some(a),
            user_id: Some(b),
            roles: vec![50],
        },
    ]
    .iter()
    .enumerate()
    {
        queries.push((
            format!("organization roles #{i}"),
            store::org_roles::list_query(f, later).build(backend),
        ));
    }
    for (i, owners) in [
        store::personal_tokens::Owners {
            organization_id: org,
            user_ids: vec![],
        },
        store::personal_tokens::Owners {
            organization_id: org,
            user_ids: vec![a, b],
        },
    ]
    .iter()
    .enumerate()
    {
        queries.push((
            format!("personal access tokens #{i}"),
            store::personal_tokens::list_query(owners, later).build(backend),
        ));
    }
    for include_inactive in [false, true] {
        queries.push((
            format!("runner tokens (inactive too: {include_inactive})"),
            store::runner_tokens::list_query(a, include_inactive, chrono::Utc::now(), later).build(backend),
        ));
    }
    use store::members::{MemberFilter, Sort, SortBy};
    let after = store::members::Member {
        id: a,
        organization_id: org,
        name: "ada".into(),
        org_admin: false,
        created_at: chrono::Utc::now(),
    };
    for (i, (by, descending)) in [(SortBy::Joined, false), (SortBy::Name, false), (SortBy::Name, true)]
        .into_iter()
        .enumerate()
    {
        let filter = MemberFilter {
            organization_id: org,
            ..Default::default()
        };
        let sort = Sort { by, descending };
        for after in [None, Some(&after)] {
            queries.push((
                format!("members #{i} (after: {})", after.is_some()),
                store::members::list_query(&filter, sort, after, 25).build(backend),
            ));
        }
    }

    // the liveness sweep reads only the runners that change
    let cutoff = chrono::Utc::now();
    queries.push(("expiring leases".into(), store::leases::expiring(cutoff).build(backend)));
    queries.push((
        "forgotten runners".into(),
        store::leases::forgotten(cutoff, cutoff).build(backend),
    ));

    // the detector itself: a filter on an unindexed column is a scan
    let unindexed = Statement::from_string(backend, "SELECT * FROM runners WHERE name = 'x'");
    assert!(
        scans_a_table(&plan(&server, unindexed).await),
        "the plan check must see a table scan"
    );

    let mut scans = Vec::new();
    for (name, stmt) in queries {
        let plan = plan(&server, stmt).await;
        assert!(!plan.is_empty(), "{name}: no plan");
        if scans_a_table(&plan) {
            scans.push(format!("{name}:\n{plan}"));
        }
    }
    assert!(scans.is_empty(), "table scans:\n{}", scans.join("\n\n"));
    server.stop().await;
}

/// Inserts `n` rows made by `row` from new (newer) ids; the ids.
async fn insert_newer<A>(server: &TestServer, n: usize, row: impl Fn(Uuid) -> A) -> Vec<Uuid>
where
    A: sea_orm::ActiveModelTrait + Send,
    <A::Entity as sea_orm::EntityTrait>::Model: sea_orm::IntoActiveModel<A>,
{
    use sea_orm::EntityTrait;
    let ids: Vec<Uuid> = (0..n).map(|_| Uuid::now_v7()).collect();
    let rows: Vec<A> = ids.iter().map(|id| row(*id)).collect();
    // within SQLite's 32,766 bound parameters (a runner has about 40 columns)
    for chunk in rows.chunks(500) {
        A::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&server.state.db)
            .await
            .unwrap();
    }
    ids
}

/// Adds `n` copies of `template` to an organization, with new (newer) ids.
async fn copies(server: &TestServer, template: &store::runners::Runner, organization_id: Uuid, n: usize) -> Vec<Uuid> {
    use sea_orm::{ActiveModelTrait, IntoActiveModel};
    insert_newer(server, n, |id| {
        store::runners::Runner {
            id,
            organization_id,
            ..template.clone()
        }
        .into_active_model()
        .reset_all()
    })
    .await
}

/// At scale: statistics gathered when one organization held all
/// the runners, then many newer runners in another organization (the
/// ascending-key problem of UUIDv7 ids). The last page of the first
/// organization's runners must still be read through its (organization, id)
/// index — not by walking the primary key from the page's start and
/// filtering by organization, which reads every newer runner of the other.
#[tokio::test]
async fn a_last_page_stays_on_its_organization_index_when_another_organization_grows() {
    let server = TestServer::start().await;
    let db = &server.state.db;
    let (runner_id, _) = server
        .runner_with_token(Protocol::Grpc, &server.admin, "template")
        .await;
    let template = store::runners::get(db, runner_id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    let ours = copies(&server, &template, server.admin.organization_id, 2_000).await;
    db.execute_unprepared("ANALYZE runners").await.unwrap();
    let other = server.user_in("a bigger organization", "ozzy", true).await;
    copies(&server, &template, other.organization_id, 50_000).await;

    // as the bench lists them: by kind and provider, which have indexes of their own
    let filter = store::runners::RunnerFilter {
        organization_id: server.admin.organization_id,
        kinds: vec![template.kind],
        providers: vec![template.provider],
        ..Default::default()
    };
    let last_page = Page {
        after: Some(ours[ours.len() - 20]),
        size: 26,
    };
    let query = store::runners::list_query(&filter, last_page);
    assert_starts_at_its_page(
        &server,
        query.build(db.get_database_backend()),
        "runners",
        "the last page",
    )
    .await;
    server.stop().await;
}

/// Adds `n` copies of an audit entry to an organization, with new (newer) ids.
async fn audit_copies(
    server: &TestServer,
    template: &store::entities::audit_log::Model,
    organization_id: Uuid,
    n: usize,
) -> Vec<Uuid> {
    use sea_orm::{ActiveModelTrait, IntoActiveModel};
    insert_newer(server, n, |id| {
        store::entities::audit_log::Model {
            id,
            organization_id,
            ..template.clone()
        }
        .into_active_model()
        .reset_all()
    })
    .await
}

/// A page of `table` is read from where it starts: on PostgreSQL, as the
/// planner would choose (sequential scans allowed), through an
/// organization's index rather than by walking the primary key and filtering
/// by organization; on SQLite, through an index range that includes the
/// page's start (`id>?` or `id<?`), not from the organization's first row.
async fn assert_starts_at_its_page(server: &TestServer, stmt: Statement, table: &str, what: &str) {
    let db = &server.state.db;
    if db.get_database_backend() != DatabaseBackend::Postgres {
        let plan = plan(server, stmt).await;
        assert!(
            plan.contains("id>?") || plan.contains("id<?"),
            "{what} reads the organization's rows from its first:\n{plan}"
        );
        return;
    }
    let rows = db
        .query_all(Statement::from_string(
            DatabaseBackend::Postgres,
            format!("EXPLAIN {stmt}"),
        ))
        .await
        .unwrap();
    let plan = rows
        .iter()
        .map(|r| r.try_get::<String>("", "QUERY PLAN").unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    let walks_the_primary_key = plan.contains(&format!("{table}_pkey")) && plan.contains("Filter: (organization_id");
    assert!(
        !walks_the_primary_key && !plan.contains("Seq Scan"),
        "{what} reads the other organization's rows:\n{plan}"
    );
    // an index led by (organization_id, provider, …) can start a range at
    // the page only from the id's own bound, not from the row value
    assert!(
        plan.contains("(id > '") || plan.contains("(id < '"),
        "{what} reads the organization's rows from its first:\n{plan}"
    );
}

/// The audit log grows fastest of all: the same data shape as above, and
/// both ends of it — newest first (the default) from the start, where the
/// primary key walked backwards would pass every newer entry of the other
/// organization, and oldest first from its last page.
#[tokio::test]
async fn audit_pages_stay_on_their_organization_index_when_another_organization_grows() {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    use store::entities::audit_log;
    let server = TestServer::start().await;
    let db = &server.state.db;
    server.runner_with_token(Protocol::Grpc, &server.admin, "audited").await;
    let template = audit_log::Entity::find()
        .filter(audit_log::Column::OrganizationId.eq(server.admin.organization_id))
        .one(db)
        .await
        .unwrap()
        .expect("creating a runner wrote an audit entry");
    let ours = audit_copies(&server, &template, server.admin.organization_id, 2_000).await;
    db.execute_unprepared("ANALYZE audit_logs").await.unwrap();
    let other = server.user_in("a busier organization", "ozzy", true).await;
    audit_copies(&server, &template, other.organization_id, 50_000).await;

    let filter = |newest_first| store::audit::AuditFilter {
        organization_id: server.admin.organization_id,
        newest_first,
        ..Default::default()
    };
    let pages = [
        ("newest first, first page", filter(true), Page { after: None, size: 26 }),
        (
            "oldest first, last page",
            filter(false),
            Page {
                after: Some(ours[ours.len() - 20]),
                size: 26,
            },
        ),
    ];
    for (what, filter, page) in pages {
        let query = store::audit::list_query(&filter, page);
        assert_starts_at_its_page(&server, query.build(db.get_database_backend()), "audit_logs", what).await;
    }
    server.stop().await;
}

/// The fleet summary's counts read the organization's index ranges
/// (idx_runners_org_phase, idx_runners_org_channel_version), not the table.
#[tokio::test]
async fn the_fleet_summary_counts_from_indexes() {
    use sea_orm::{ActiveModelTrait, IntoActiveModel};
    let server = TestServer::start().await;
    let db = &server.state.db;
    let backend = db.get_database_backend();
    let (runner_id, _) = server
        .runner_with_token(Protocol::Grpc, &server.admin, "template")
        .await;
    let template = store::runners::get(db, runner_id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    // a fleet of every state, channel and version; and another organization's
    let other = server.user_in("another organization", "ozzy", true).await;
    for (organization_id, n) in [(server.admin.organization_id, 2_000), (other.organization_id, 2_000)] {
        let i = std::cell::Cell::new(0usize);
        insert_newer(&server, n, |id| {
            let k = i.get();
            i.set(k + 1);
            store::runners::Runner {
                id,
                organization_id,
                phase: [1, 2, 3, 6][k % 4],
                inactive_since: (k % 4 == 1).then(|| chrono::Utc::now() - chrono::Duration::hours(k as i64)),
                release_channel: (k % 3) as i32,
                status_version: format!("1.{}.0", k % 5),
                ..template.clone()
            }
            .into_active_model()
            .reset_all()
        })
        .await;
    }
    // (PostgreSQL: the visibility map too, so an index alone may answer)
    let analyze = if using_postgres() {
        "VACUUM ANALYZE runners"
    } else {
        "ANALYZE"
    };
    db.execute_unprepared(analyze).await.unwrap();
    use store::fleet::{Drift, FleetFilter, FleetView, Release, Search, State};
    let view = FleetView {
        organization_id: server.admin.organization_id,
        stale_before: chrono::Utc::now(),
        releases: vec![
            Release {
                channels: vec![0, 1],
                version: "1.2.0".into(),
            },
            Release {
                channels: vec![2],
                version: "1.3.0".into(),
            },
        ],
    };
    let queries = store::fleet::count_queries(&view);
    let mut statements = vec![
        ("by phase", queries.by_phase.build(backend)),
        ("stale", queries.stale.build(backend)),
    ];
    statements.extend(queries.outdated.into_iter().map(|q| ("outdated", q.build(backend))));
    for (what, stmt) in statements {
        let plan = plan(&server, stmt).await;
        assert!(!scans_a_table(&plan), "{what}: {plan}");
        // stale: the organization's phase index, or the liveness sweep's
        // (phase, inactive_since) one — either reads only the stale runners;
        // by phase: any index that starts at the organization
        let indexes: &[&str] = match what {
            "outdated" => &["idx_runners_org_channel_version"],
            "stale" => &["idx_runners_org_phase", "runners_phase_inactive_since"],
            _ => &["idx_runners_org"],
        };
        assert!(
            indexes.iter().any(|i| plan.contains(i)),
            "{what} should use one of {indexes:?}: {plan}"
        );
    }
    let regions = plan(
        &server,
        store::fleet::regions_query(view.organization_id).build(backend),
    )
    .await;
    assert!(regions.contains("idx_runners_org_regions"), "regions: {regions}");
    assert!(!scans_a_table(&regions), "regions: {regions}");

    // the fleet list under each filter: a range of the organization's, never
    // the table
    let filters = [
        FleetFilter::default(),
        FleetFilter {
            states: vec![State::Stale, State::NeverConnected],
            ..Default::default()
        },
        FleetFilter {
            states: vec![State::Degraded],
            ..Default::default()
        },
        FleetFilter {
            providers: vec![1, 4],
            ..Default::default()
        },
        FleetFilter {
            regions: vec!["eu-west-1".into()],
            ..Default::default()
        },
        FleetFilter {
            drift: Some(Drift::Outdated),
            ..Default::default()
        },
        FleetFilter {
            drift: Some(Drift::Unknown),
            ..Default::default()
        },
        FleetFilter {
            search: Some(Search::NameContains("a_b".into())),
            ..Default::default()
        },
        FleetFilter {
            search: Some(Search::Id(uuid::Uuid::now_v7())),
            ..Default::default()
        },
    ];
    for filter in filters {
        // one state: a range of (organization, phase, id), in page order
        if filter.states.len() == 1 {
            let first =
                store::fleet::list_query(&view, &filter, Page { after: None, size: 51 }, backend).build(backend);
            let plan = plan(&server, first).await;
            assert!(plan.contains("idx_runners_org_phase_id"), "{filter:?}: {plan}");
        }
        for page in [
            Page { after: None, size: 51 },
            Page {
                after: Some(uuid::Uuid::now_v7()),
                size: 51,
            },
        ] {
            let query = store::fleet::list_query(&view, &filter, page, backend).build(backend);
            let plan = plan(&server, query).await;
            assert!(!scans_a_table(&plan), "{filter:?}: {plan}");
            if std::env::var("SHOW_PLANS").is_ok() {
                eprintln!("{filter:?}:\n{plan}");
            }
        }
    }
    server.stop().await;
}
