//! Who may call each RPC of groups, users, organizations, runner tokens and
//! the signed tokens: one table, every RPC × every kind of caller × the code
//! it answers. Each call acts on resources made for it, so the rows do not
//! depend on each other.

use std::future::Future;
use std::pin::Pin;

use tonic::{Code, Status};

use crate::harness::*;

/// The callers, in the order of each row's expectations.
const CALLERS: [&str; 7] = [
    "anonymous",
    "member",
    "RUNNER_ROLE_ADMIN group member",
    "ORG_RUNNERS_ADMIN group member",
    "organization admin",
    "admin's read-only token",
    "the runner's own token",
];

const P: Protocol = Protocol::Grpc;

struct World {
    server: TestServer,
    /// A runner the admin created; the "runner admins" group holds RUNNER_ROLE_ADMIN on it.
    runner_id: String,
    /// The "runner admins" group.
    group_id: String,
    /// The bearer token of each caller ("" for the anonymous).
    tokens: [String; 7],
}

type Call<'a> = Pin<Box<dyn Future<Output = Result<(), Status>> + 'a>>;
type Row = (&'static str, [Code; 7], for<'a> fn(&'a World, &'a str) -> Call<'a>);

const OK: Code = Code::Ok;
const UN: Code = Code::Unauthenticated;
const PD: Code = Code::PermissionDenied;
const NF: Code = Code::NotFound;

fn done<T>(r: Result<tonic::Response<T>, Status>) -> Result<(), Status> {
    r.map(|_| ())
}

impl World {
    async fn new() -> World {
        let server = TestServer::start().await;
        let org = server.admin.organization_id;
        let member = server.member("mia").await;
        let runner_admin = server.member("rae").await;
        let runners_admin = server.member("ora").await;
        let group = server.group(org, "runner admins", &[&runner_admin]).await;
        let fleet = server.group(org, "fleet", &[&runners_admin]).await;
        let (runner_id, runner_token) = server.runner_with_token(P, &server.admin, "matrix").await;
        let mut groups = server.groups(P, &server.admin.token).await;
        for (group, resource_type, resource_id, role) in [
            (
                group,
                pb::ResourceType::Runner,
                runner_id.clone(),
                pb::ResourceRole::RunnerAdmin,
            ),
            (
                fleet,
                pb::ResourceType::Organization,
                org.to_string(),
                pb::ResourceRole::OrgRunnersAdmin,
            ),
        ] {
            groups
                .create_role_assignment(pb::CreateRoleAssignmentRequest {
                    group_id: group.to_string(),
                    resource_type: resource_type as i32,
                    resource_id,
                    resource_role: role as i32,
                })
                .await
                .unwrap();
        }
        let read_only = server
            .users(P, &server.admin.token)
            .await
            .create_personal_access_token(pb::CreatePersonalAccessTokenRequest {
                user_id: server.admin.id.to_string(),
                description: "read-only".into(),
                valid_for: None,
                read_only: true,
            })
            .await
            .unwrap()
            .into_inner()
            .token;
        let tokens = [
            String::new(),
            member.token,
            runner_admin.token,
            runners_admin.token,
            server.admin.token.clone(),
            read_only,
            runner_token,
        ];
        World {
            server,
            runner_id,
            group_id: group.to_string(),
            tokens,
        }
    }

    fn org(&self) -> String {
        self.server.admin.organization_id.to_string()
    }

    /// A new group of the organization, made by the operator.
    async fn fresh_group(&self) -> String {
        let name = format!("g-{}", uuid::Uuid::now_v7());
        self.server
            .group(self.server.admin.organization_id, &name, &[])
            .await
            .to_string()
    }

    /// Who is calling: the user behind `token`, when it is a user.
    async fn caller_id(&self, token: &str) -> String {
        self.server
            .identity(P, Some(token))
            .await
            .get_authenticated_identity(pb::GetAuthenticatedIdentityRequest {})
            .await
            .map(|r| r.into_inner().subject.unwrap_or_default().id)
            .unwrap_or_else(|_| uuid::Uuid::nil().to_string())
    }

    /// A fresh personal access token of the admin: its id.
    async fn admins_fresh_pat(&self) -> String {
        let mut users = self.server.users(P, &self.server.admin.token).await;
        let description = format!("t-{}", uuid::Uuid::now_v7());
        users
            .create_personal_access_token(pb::CreatePersonalAccessTokenRequest {
                user_id: self.server.admin.id.to_string(),
                description: description.clone(),
                valid_for: None,
                read_only: false,
            })
            .await
            .unwrap();
        users
            .list_personal_access_tokens(pb::ListPersonalAccessTokensRequest {
                pagination: Some(pb::PaginationRequest {
                    token: String::new(),
                    page_size: 100,
                }),
                filter: None,
            })
            .await
            .unwrap()
            .into_inner()
            .personal_access_tokens
            .into_iter()
            .find(|t| t.description == description)
            .unwrap()
            .id
    }
}

fn rows() -> Vec<Row> {
    vec![
        // GroupService
        ("CreateGroup", [UN, PD, PD, PD, OK, PD, PD], |w, t| {
            Box::pin(async move {
                done(
                    w.server
                        .groups(P, t)
                        .await
                        .create_group(pb::CreateGroupRequest {
                            organization_id: w.org(),
                            name: format!("new {}", uuid::Uuid::now_v7()),
                            description: String::new(),
                        })
                        .await,
                )
            })
        }),
        ("GetGroup", [UN, OK, OK, OK, OK, OK, PD], |w, t| {
            Box::pin(async move {
                #[allow(deprecated)]
                let request = pb::GetGroupRequest {
                    group_id: String::new(),
                    group: Some(pb::get_group_request::Group::Id(w.group_id.clone())),
                };
                done(w.server.groups(P, t).await.get_group(request).await)
            })
        }),
        ("ListGroups", [UN, OK, OK, OK, OK, OK, PD], |w, t| {
            Box::pin(async move {
                done(
                    w.server
                        .groups(P, t)
                        .await
                        .list_groups(pb::ListGroupsRequest::default())
                        .await,
                )
            })
        }),
        ("UpdateGroup", [UN, PD, PD, PD, OK, PD, PD], |w, t| {
            Box::pin(async move {
                let group_id = w.fresh_group().await;
                done(
                    w.server
                        .groups(P, t)
                        .await
                        .update_group(pb::UpdateGroupRequest {
                            group_id,
                            name: format!("renamed {}", uuid::Uuid::now_v7()),
                            description: String::new(),
                        })
                        .await,
                )
            })
        }),
        ("DeleteGroup", [UN, PD, PD, PD, OK, PD, PD], |w, t| {
            Box::pin(async move {
                let group_id = w.fresh_group().await;
                done(
                    w.server
                        .groups(P, t)
                        .await
                        .delete_group(pb::DeleteGroupRequest { group_id })
                        .await,
                )
            })
        }),
        ("CreateMembership", [UN, PD, PD, PD, OK, PD, PD], |w, t| {
            Box::pin(async move {
                let group_id = w.fresh_group().await;
                done(
                    w.server
                        .groups(P, t)
                        .await
                        .create_membership(pb::CreateMembershipRequest {
                            group_id,
                            subject: Some(pb::Subject {
                                id: w.server.admin.id.to_string(),
                                principal: pb::Principal::User as i32,
                            }),
                        })
                        .await,
                )
            })
        }),
        ("DeleteMembership", [UN, PD, PD, PD, OK, PD, PD], |w, t| {
            Box::pin(async move {
                let group_id = w.fresh_group().await;
                let membership = w
                    .server
                    .groups(P, &w.server.admin.token)
                    .await
                    .create_membership(pb::CreateMembershipRequest {
                        group_id,
                        subject: Some(pb::Subject {
                            id: w.server.admin.id.to_string(),
                            principal: pb::Principal::User as i32,
                        }),
                    })
                    .await
                    .unwrap()
                    .into_inner()
                    .member
                    .unwrap();
                done(
                    w.server
                        .groups(P, t)
                        .await
                        .delete_membership(pb::DeleteMembershipRequest {
                            membership_id: membership.id,
                        })
                        .await,
                )
            })
        }),
        ("GetMembership", [UN, OK, OK, OK, OK, OK, PD], |w, t| {
            Box::pin(async move {
                let group_id = w.fresh_group().await;
                w.server
                    .groups(P, &w.server.admin.token)
                    .await
                    .create_membership(pb::CreateMembershipRequest {
                        group_id: group_id.clone(),
                        subject: Some(pb::Subject {
                            id: w.server.admin.id.to_string(),
                            principal: pb::Principal::User as i32,
                        }),
                    })
                    .await
                    .unwrap();
                done(
                    w.server
                        .groups(P, t)
                        .await
                        .get_membership(pb::GetMembershipRequest {
                            group_id,
                            subject: Some(pb::Subject {
                                id: w.server.admin.id.to_string(),
                                principal: pb::Principal::User as i32,
                            }),
                        })
                        .await,
                )
            })
        }),
        ("ListMemberships", [UN, OK, OK, OK, OK, OK, PD], |w, t| {
            Box::pin(async move {
                done(
                    w.server
                        .groups(P, t)
                        .await
                        .list_memberships(pb::ListMembershipsRequest {
                            group_id: w.group_id.clone(),
                            ..Default::default()
                        })
                        .await,
                )
            })
        }),
        ("CreateRoleAssignment (runner)", [UN, PD, OK, OK, OK, PD, PD], |w, t| {
            Box::pin(async move {
                let group_id = w.fresh_group().await;
                done(
                    w.server
                        .groups(P, t)
                        .await
                        .create_role_assignment(pb::CreateRoleAssignmentRequest {
                            group_id,
                            resource_type: pb::ResourceType::Runner as i32,
                            resource_id: w.runner_id.clone(),
                            resource_role: pb::ResourceRole::RunnerUser as i32,
                        })
                        .await,
                )
            })
        }),
        (
            "CreateRoleAssignment (organization)",
            [UN, PD, PD, PD, OK, PD, PD],
            |w, t| {
                Box::pin(async move {
                    let group_id = w.fresh_group().await;
                    done(
                        w.server
                            .groups(P, t)
                            .await
                            .create_role_assignment(pb::CreateRoleAssignmentRequest {
                                group_id,
                                resource_type: pb::ResourceType::Organization as i32,
                                resource_id: w.org(),
                                resource_role: pb::ResourceRole::OrgAuditLogReader as i32,
                            })
                            .await,
                    )
                })
            },
        ),
        ("ListRoleAssignments", [UN, OK, OK, OK, OK, OK, PD], |w, t| {
            Box::pin(async move {
                done(
                    w.server
                        .groups(P, t)
                        .await
                        .list_role_assignments(pb::ListRoleAssignmentsRequest::default())
                        .await,
                )
            })
        }),
        ("DeleteRoleAssignment (runner)", [UN, PD, OK, OK, OK, PD, PD], |w, t| {
            Box::pin(async move {
                let group_id = w.fresh_group().await;
                let assignment = w
                    .server
                    .groups(P, &w.server.admin.token)
                    .await
                    .create_role_assignment(pb::CreateRoleAssignmentRequest {
                        group_id,
                        resource_type: pb::ResourceType::Runner as i32,
                        resource_id: w.runner_id.clone(),
                        resource_role: pb::ResourceRole::RunnerUser as i32,
                    })
                    .await
                    .unwrap()
                    .into_inner()
                    .assignment
                    .unwrap();
                done(
                    w.server
                        .groups(P, t)
                        .await
                        .delete_role_assignment(pb::DeleteRoleAssignmentRequest {
                            assignment_id: assignment.id,
                        })
                        .await,
                )
            })
        }),
        (
            "DeleteRoleAssignment (organization)",
            [UN, PD, PD, PD, OK, PD, PD],
            |w, t| {
                Box::pin(async move {
                    let group_id = w.fresh_group().await;
                    let assignment = w
                        .server
                        .groups(P, &w.server.admin.token)
                        .await
                        .create_role_assignment(pb::CreateRoleAssignmentRequest {
                            group_id,
                            resource_type: pb::ResourceType::Organization as i32,
                            resource_id: w.org(),
                            resource_role: pb::ResourceRole::OrgAuditLogReader as i32,
                        })
                        .await
                        .unwrap()
                        .into_inner()
                        .assignment
                        .unwrap();
                    done(
                        w.server
                            .groups(P, t)
                            .await
                            .delete_role_assignment(pb::DeleteRoleAssignmentRequest {
                                assignment_id: assignment.id,
                            })
                            .await,
                    )
                })
            },
        ),
        // UserService
        ("GetAuthenticatedUser", [UN, OK, OK, OK, OK, OK, PD], |w, t| {
            Box::pin(async move {
                done(
                    w.server
                        .users(P, t)
                        .await
                        .get_authenticated_user(pb::GetAuthenticatedUserRequest {})
                        .await,
                )
            })
        }),
        ("GetUser", [UN, OK, OK, OK, OK, OK, PD], |w, t| {
            Box::pin(async move {
                done(
                    w.server
                        .users(P, t)
                        .await
                        .get_user(pb::GetUserRequest {
                            user_id: w.server.admin.id.to_string(),
                        })
                        .await,
                )
            })
        }),
        (
            "CreatePersonalAccessToken (own)",
            [UN, OK, OK, OK, OK, PD, PD],
            |w, t| {
                Box::pin(async move {
                    let user_id = w.caller_id(t).await;
                    done(
                        w.server
                            .users(P, t)
                            .await
                            .create_personal_access_token(pb::CreatePersonalAccessTokenRequest {
                                user_id,
                                description: String::new(),
                                valid_for: None,
                                read_only: false,
                            })
                            .await,
                    )
                })
            },
        ),
        (
            "CreatePersonalAccessToken (another's)",
            [UN, PD, PD, PD, PD, PD, PD],
            |w, t| {
                Box::pin(async move {
                    let someone = w.server.member(&format!("u-{}", uuid::Uuid::now_v7())).await;
                    done(
                        w.server
                            .users(P, t)
                            .await
                            .create_personal_access_token(pb::CreatePersonalAccessTokenRequest {
                                user_id: someone.id.to_string(),
                                description: String::new(),
                                valid_for: None,
                                read_only: false,
                            })
                            .await,
                    )
                })
            },
        ),
        (
            "GetPersonalAccessToken (the admin's)",
            [UN, NF, NF, NF, OK, OK, PD],
            |w, t| {
                Box::pin(async move {
                    let id = w.admins_fresh_pat().await;
                    done(
                        w.server
                            .users(P, t)
                            .await
                            .get_personal_access_token(pb::GetPersonalAccessTokenRequest {
                                personal_access_token_id: id,
                            })
                            .await,
                    )
                })
            },
        ),
        ("ListPersonalAccessTokens", [UN, OK, OK, OK, OK, OK, PD], |w, t| {
            Box::pin(async move {
                done(
                    w.server
                        .users(P, t)
                        .await
                        .list_personal_access_tokens(pb::ListPersonalAccessTokensRequest::default())
                        .await,
                )
            })
        }),
        (
            "DeletePersonalAccessToken (the admin's)",
            [UN, NF, NF, NF, OK, PD, PD],
            |w, t| {
                Box::pin(async move {
                    let id = w.admins_fresh_pat().await;
                    done(
                        w.server
                            .users(P, t)
                            .await
                            .delete_personal_access_token(pb::DeletePersonalAccessTokenRequest {
                                personal_access_token_id: id,
                            })
                            .await,
                    )
                })
            },
        ),
        // OrganizationService
        ("GetOrganization", [UN, OK, OK, OK, OK, OK, OK], |w, t| {
            Box::pin(async move {
                done(
                    w.server
                        .organizations(P, t)
                        .await
                        .get_organization(pb::GetOrganizationRequest {
                            organization_id: w.org(),
                        })
                        .await,
                )
            })
        }),
        ("ListMembers", [UN, OK, OK, OK, OK, OK, PD], |w, t| {
            Box::pin(async move {
                done(
                    w.server
                        .organizations(P, t)
                        .await
                        .list_members(pb::ListMembersRequest {
                            organization_id: w.org(),
                            ..Default::default()
                        })
                        .await,
                )
            })
        }),
        ("SetRole", [UN, PD, PD, PD, OK, PD, PD], |w, t| {
            Box::pin(async move {
                let someone = w.server.member(&format!("u-{}", uuid::Uuid::now_v7())).await;
                done(
                    w.server
                        .organizations(P, t)
                        .await
                        .set_role(pb::SetRoleRequest {
                            organization_id: w.org(),
                            user_id: someone.id.to_string(),
                            role: pb::OrganizationRole::Admin as i32,
                        })
                        .await,
                )
            })
        }),
        // paddock.v1.RunnerTokenService
        ("ListRunnerTokens", [UN, PD, OK, OK, OK, OK, PD], |w, t| {
            Box::pin(async move {
                done(
                    w.server
                        .runner_tokens(P, t)
                        .await
                        .list_runner_tokens(ppb::ListRunnerTokensRequest {
                            runner_id: w.runner_id.clone(),
                            pagination: None,
                            include_inactive: true,
                        })
                        .await,
                )
            })
        }),
        ("RotateRunnerToken", [UN, PD, OK, OK, OK, PD, PD], |w, t| {
            Box::pin(async move {
                done(
                    w.server
                        .runner_tokens(P, t)
                        .await
                        .rotate_runner_token(ppb::RotateRunnerTokenRequest {
                            runner_id: w.runner_id.clone(),
                            grace: Some(prost_types::Duration {
                                seconds: 3600,
                                nanos: 0,
                            }),
                        })
                        .await,
                )
            })
        }),
        ("RevokeRunnerToken", [UN, PD, OK, OK, OK, PD, PD], |w, t| {
            Box::pin(async move {
                // a fresh exchange token of the runner, to revoke
                w.server
                    .runners(P, &w.server.admin.token)
                    .await
                    .create_runner_token(pb::CreateRunnerTokenRequest {
                        runner_id: w.runner_id.clone(),
                    })
                    .await
                    .unwrap();
                let newest = w
                    .server
                    .runner_tokens(P, &w.server.admin.token)
                    .await
                    .list_runner_tokens(ppb::ListRunnerTokensRequest {
                        runner_id: w.runner_id.clone(),
                        pagination: Some(pb::PaginationRequest {
                            token: String::new(),
                            page_size: 100,
                        }),
                        include_inactive: false,
                    })
                    .await
                    .unwrap()
                    .into_inner()
                    .tokens
                    .into_iter()
                    .rfind(|t| t.kind == ppb::RunnerTokenKind::Exchange as i32)
                    .unwrap();
                done(
                    w.server
                        .runner_tokens(P, t)
                        .await
                        .revoke_runner_token(ppb::RevokeRunnerTokenRequest { token_id: newest.id })
                        .await,
                )
            })
        }),
        // signed tokens
        ("GetIDToken", [UN, OK, OK, OK, OK, PD, OK], |w, t| {
            Box::pin(async move {
                done(
                    w.server
                        .identity(P, Some(t))
                        .await
                        .get_id_token(pb::GetIdTokenRequest {
                            audience: vec!["aud".into()],
                            version: 0,
                        })
                        .await,
                )
            })
        }),
        ("CreateRunnerLogsToken", [UN, PD, OK, OK, OK, PD, PD], |w, t| {
            Box::pin(async move {
                done(
                    w.server
                        .runners(P, t)
                        .await
                        .create_runner_logs_token(pb::CreateRunnerLogsTokenRequest {
                            runner_id: w.runner_id.clone(),
                        })
                        .await,
                )
            })
        }),
    ]
}

#[tokio::test]
async fn every_caller_gets_the_answer_its_role_allows() {
    let world = World::new().await;
    let mut wrong = Vec::new();
    let mut cells = 0;
    for (rpc, expected, call) in rows() {
        for (i, token) in world.tokens.iter().enumerate() {
            let got = match call(&world, token).await {
                Ok(()) => Code::Ok,
                Err(status) => status.code(),
            };
            cells += 1;
            if got != expected[i] {
                wrong.push(format!("{rpc} as {}: {got:?}, expected {:?}", CALLERS[i], expected[i]));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {cells} cells wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    world.server.stop().await;
}
