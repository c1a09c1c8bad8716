#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "minicd/health/health.hpp"
#include "minicd/health/test_support.hpp"

namespace minicd::health {
namespace {

using model::Json;
using testing_support::with;

// Deployment web at generation 4, fully rolled out, as the API server returns it.
const Json k_deployment = Json::parse(R"json({
  "apiVersion": "apps/v1",
  "kind": "Deployment",
  "metadata": {
    "name": "web",
    "namespace": "shop",
    "uid": "5b0c8f2e-3a1d-4c9e-9f6b-2d7e8a1c4b3f",
    "resourceVersion": "48213",
    "generation": 4,
    "creationTimestamp": "2024-05-02T09:14:07Z",
    "labels": {"app.kubernetes.io/name": "web", "app.kubernetes.io/managed-by": "minicd"},
    "annotations": {"deployment.kubernetes.io/revision": "4", "minicd.io/owner": "shop/staging"}
  },
  "spec": {
    "replicas": 3,
    "selector": {"matchLabels": {"app.kubernetes.io/name": "web"}},
    "template": {
      "metadata": {"creationTimestamp": null, "labels": {"app.kubernetes.io/name": "web"}},
      "spec": {
        "containers": [{"name": "main", "image": "registry.example.com/shop/web@sha256:6f1e3b2a9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f",
                        "ports": [{"containerPort": 8080, "protocol": "TCP"}], "resources": {},
                        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                        "imagePullPolicy": "IfNotPresent"}],
        "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
        "securityContext": {}, "schedulerName": "default-scheduler"
      }
    },
    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
    "revisionHistoryLimit": 10,
    "progressDeadlineSeconds": 600
  },
  "status": {
    "observedGeneration": 4,
    "replicas": 3,
    "updatedReplicas": 3,
    "readyReplicas": 3,
    "availableReplicas": 3,
    "conditions": [
      {"type": "Available", "status": "True", "lastUpdateTime": "2024-05-02T09:15:01Z", "lastTransitionTime": "2024-05-02T09:15:01Z",
       "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability."},
      {"type": "Progressing", "status": "True", "lastUpdateTime": "2024-05-06T13:03:12Z", "lastTransitionTime": "2024-05-02T09:14:07Z",
       "reason": "NewReplicaSetAvailable", "message": "ReplicaSet \"web-7d9c6b5f4\" has successfully progressed."}
    ]
  }
})json");

// Generation 4 being rolled out: the controller has observed it and the new ReplicaSet is progressing.
const Json k_rolling_out = with(k_deployment, R"json({"status": {
    "observedGeneration": 4, "replicas": 4, "updatedReplicas": 2, "readyReplicas": 3, "availableReplicas": 3,
    "unavailableReplicas": 1,
    "conditions": [
      {"type": "Available", "status": "True", "lastUpdateTime": "2024-05-02T09:15:01Z", "lastTransitionTime": "2024-05-02T09:15:01Z",
       "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability."},
      {"type": "Progressing", "status": "True", "lastUpdateTime": "2024-05-06T13:02:50Z", "lastTransitionTime": "2024-05-02T09:14:07Z",
       "reason": "ReplicaSetUpdated", "message": "ReplicaSet \"web-7d9c6b5f4\" is progressing."}
    ]}})json");

// A pod of the new ReplicaSet; each test gives it the status it is about.
const Json k_new_pod = Json::parse(R"json({
  "metadata": {
    "name": "web-7d9c6b5f4-x2x8q", "generateName": "web-7d9c6b5f4-", "namespace": "shop",
    "uid": "3c1f0a9e-7b2d-4e8f-a6c5-91d0b2e4f7a3", "resourceVersion": "48190",
    "creationTimestamp": "2024-05-06T13:02:44Z",
    "labels": {"app.kubernetes.io/name": "web", "pod-template-hash": "7d9c6b5f4"},
    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d9c6b5f4",
                         "uid": "9e2b4c71-0f3a-4d8b-b5e6-7a1c2d3e4f50", "controller": true, "blockOwnerDeletion": true}]
  },
  "spec": {"containers": [{"name": "main", "image": "registry.example.com/shop/web:4f2a9c1"}],
           "restartPolicy": "Always", "nodeName": "worker-2"},
  "status": {
    "phase": "Running",
    "conditions": [
      {"type": "Initialized", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2024-05-06T13:02:44Z"},
      {"type": "Ready", "status": "False", "lastProbeTime": null, "lastTransitionTime": "2024-05-06T13:02:44Z",
       "reason": "ContainersNotReady", "message": "containers with unready status: [main]"},
      {"type": "ContainersReady", "status": "False", "lastProbeTime": null, "lastTransitionTime": "2024-05-06T13:02:44Z",
       "reason": "ContainersNotReady", "message": "containers with unready status: [main]"},
      {"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2024-05-06T13:02:44Z"}
    ],
    "hostIP": "10.0.0.12", "podIP": "10.244.1.17", "startTime": "2024-05-06T13:02:44Z",
    "containerStatuses": [{"name": "main", "ready": false, "restartCount": 0, "started": true,
      "image": "registry.example.com/shop/web:4f2a9c1", "imageID": "registry.example.com/shop/web@sha256:6f1e3b2a9c8d",
      "containerID": "containerd://b71f3e0d9c2a", "lastState": {},
      "state": {"running": {"startedAt": "2024-05-06T13:02:46Z"}}}],
    "qosClass": "BestEffort"
  }
})json");

const Json k_crash_looping_pod = with(k_new_pod, R"json({"status": {"containerStatuses": [{
    "name": "main", "ready": false, "restartCount": 3, "started": false,
    "image": "registry.example.com/shop/web:4f2a9c1", "imageID": "registry.example.com/shop/web@sha256:6f1e3b2a9c8d",
    "containerID": "containerd://0d9c2a4b6e8f",
    "state": {"waiting": {"reason": "CrashLoopBackOff",
      "message": "back-off 40s restarting failed container=main pod=web-7d9c6b5f4-x2x8q_shop(3c1f0a9e-7b2d-4e8f-a6c5-91d0b2e4f7a3)"}},
    "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": "2024-05-06T13:03:30Z",
      "finishedAt": "2024-05-06T13:03:31Z", "containerID": "containerd://0d9c2a4b6e8f"}}}]}})json");

const Json k_image_pull_pod = with(k_new_pod, R"json({"metadata": {"name": "web-7d9c6b5f4-lq7zd"},
  "status": {"phase": "Pending", "podIP": null, "containerStatuses": [{
    "name": "main", "ready": false, "restartCount": 0, "started": false,
    "image": "registry.example.com/shop/web:4f2a9c1", "imageID": "", "lastState": {},
    "state": {"waiting": {"reason": "ImagePullBackOff",
      "message": "Back-off pulling image \"registry.example.com/shop/web:4f2a9c1\""}}}]}})json");

const Json k_unschedulable_pod = with(k_new_pod, R"json({"metadata": {"name": "web-7d9c6b5f4-p4k9s"},
  "spec": {"nodeName": null},
  "status": {"phase": "Pending", "podIP": null, "hostIP": null, "startTime": null, "containerStatuses": null,
    "conditions": [{"type": "PodScheduled", "status": "False", "lastProbeTime": null,
      "lastTransitionTime": "2024-05-06T13:02:44Z", "reason": "Unschedulable",
      "message": "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu."}]}})json");

// --- Deployment -----------------------------------------------------------------------------------

TEST(Health, DeploymentFullyRolledOutIsCurrent) {
    EXPECT_EQ(assess(k_deployment), (Health{State::current, "RolloutComplete", "3 of 3 replicas updated and available"}));
}

TEST(Health, DeploymentRolloutStagesAreInProgress) {
    struct Case {
        std::string_view stage;
        std::string_view status;
        Health expected;
    };
    const std::vector<Case> cases = {
        {"new ReplicaSet scaling up", R"json({"replicas": 4, "updatedReplicas": 1, "readyReplicas": 3, "availableReplicas": 3})json",
         {State::in_progress, "UpdatingReplicas", "1 of 3 replicas updated"}},
        {"all updated, old replica still running",
         R"json({"replicas": 4, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3})json",
         {State::in_progress, "TerminatingOldReplicas", "3 of 3 replicas updated, 1 old replica pending termination"}},
        {"all updated, one not yet available",
         R"json({"replicas": 3, "updatedReplicas": 3, "readyReplicas": 2, "availableReplicas": 2, "unavailableReplicas": 1})json",
         {State::in_progress, "WaitingForAvailability", "2 of 3 updated replicas available"}},
        {"no status yet", R"json({"replicas": null, "updatedReplicas": null, "readyReplicas": null, "availableReplicas": null})json",
         {State::in_progress, "UpdatingReplicas", "0 of 3 replicas updated"}},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.stage);
        Json deployment = k_rolling_out;
        deployment["status"].merge_patch(Json::parse(c.status));
        EXPECT_EQ(assess(deployment), c.expected);
    }
}

TEST(Health, DeploymentWithOldReplicasStillRunningIsInProgress) {
    EXPECT_EQ(assess(k_rolling_out),
              (Health{State::in_progress, "UpdatingReplicas", "2 of 3 replicas updated"}));
}

TEST(Health, DeploymentWithoutSpecReplicasWantsOne) {
    Json deployment = with(k_deployment, R"json({"spec": {"replicas": null},
        "status": {"replicas": 1, "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1}})json");
    EXPECT_EQ(assess(deployment), (Health{State::current, "RolloutComplete", "1 of 1 replicas updated and available"}));
}

TEST(Health, DeploymentScaledToZeroIsCurrent) {
    Json deployment = with(k_deployment, R"json({"spec": {"replicas": 0},
        "status": {"replicas": null, "updatedReplicas": null, "readyReplicas": null, "availableReplicas": null}})json");
    EXPECT_EQ(assess(deployment), (Health{State::current, "RolloutComplete", "scaled to zero"}));
}

TEST(Health, DeploymentPastItsProgressDeadlineIsFailed) {
    Json deployment = with(k_rolling_out, R"json({"status": {"conditions": [
      {"type": "Available", "status": "True", "lastUpdateTime": "2024-05-02T09:15:01Z", "lastTransitionTime": "2024-05-02T09:15:01Z",
       "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability."},
      {"type": "Progressing", "status": "False", "lastUpdateTime": "2024-05-06T13:12:51Z", "lastTransitionTime": "2024-05-06T13:12:51Z",
       "reason": "ProgressDeadlineExceeded", "message": "ReplicaSet \"web-7d9c6b5f4\" has timed out progressing."}]}})json");
    EXPECT_EQ(assess(deployment),
              (Health{State::failed, "ProgressDeadlineExceeded",
                      "rollout exceeded its progress deadline of 600s: ReplicaSet \"web-7d9c6b5f4\" has timed out "
                      "progressing."}));

    // The pod that stalled it is what the reader needs next.
    std::vector<Json> pods = {k_crash_looping_pod};
    EXPECT_EQ(assess(deployment, pods).message,
              "rollout exceeded its progress deadline of 600s: ReplicaSet \"web-7d9c6b5f4\" has timed out progressing; "
              "pod web-7d9c6b5f4-x2x8q container main: CrashLoopBackOff: back-off 40s restarting failed container "
              "(last exit: Error, code 1)");
}

TEST(Health, DeploymentWithCrashLoopingPodIsFailedNamingThePod) {
    std::vector<Json> pods = {k_new_pod, k_crash_looping_pod};
    EXPECT_EQ(assess(k_rolling_out, pods),
              (Health{State::failed, "CrashLoopBackOff",
                      "pod web-7d9c6b5f4-x2x8q container main: CrashLoopBackOff: back-off 40s restarting failed "
                      "container (last exit: Error, code 1)"}));
}

TEST(Health, DeploymentWithImagePullBackOffPodIsFailedNamingThePod) {
    std::vector<Json> pods = {k_image_pull_pod};
    EXPECT_EQ(assess(k_rolling_out, pods),
              (Health{State::failed, "ImagePullBackOff",
                      "pod web-7d9c6b5f4-lq7zd container main: ImagePullBackOff: Back-off pulling image "
                      "\"registry.example.com/shop/web:4f2a9c1\""}));
}

TEST(Health, DeploymentWithUnschedulablePodIsFailedNamingThePod) {
    std::vector<Json> pods = {k_new_pod, k_unschedulable_pod};
    EXPECT_EQ(assess(k_rolling_out, pods),
              (Health{State::failed, "Unschedulable",
                      "pod web-7d9c6b5f4-p4k9s: Unschedulable: 0/3 nodes are available: 1 node(s) had untolerated "
                      "taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu."}));
}

TEST(Health, DeploymentFailureCountsTheOtherFailingPods) {
    std::vector<Json> pods = {k_image_pull_pod, k_crash_looping_pod, k_unschedulable_pod};
    Health health = assess(k_rolling_out, pods);
    EXPECT_EQ(health.reason, "ImagePullBackOff");
    EXPECT_TRUE(health.message.starts_with("pod web-7d9c6b5f4-lq7zd container main: ImagePullBackOff"));
    EXPECT_TRUE(health.message.ends_with(" (+2 more pods failing)")) << health.message;
}

TEST(Health, DeploymentIgnoresPodsBeingDeleted) {
    Json terminating = with(k_crash_looping_pod, R"json({"metadata": {"deletionTimestamp": "2024-05-06T13:04:00Z",
        "deletionGracePeriodSeconds": 30}})json");
    std::vector<Json> pods = {terminating, k_new_pod};
    EXPECT_EQ(assess(k_rolling_out, pods), (Health{State::in_progress, "UpdatingReplicas", "2 of 3 replicas updated"}));
}

TEST(Health, DeploymentThatIsCurrentIgnoresPods) {
    // A rolled-out Deployment is judged by its status; a crash-looping pod is the ReplicaSet's to replace.
    std::vector<Json> pods = {k_crash_looping_pod};
    EXPECT_EQ(assess(k_deployment, pods).state, State::current);
}

TEST(Health, DeploymentWithUnobservedGenerationIsInProgressAndIgnoresPods) {
    // Right after apply the pods we see may be the old release's; its crash loop is what the new spec fixes.
    Json deployment = with(k_deployment, R"json({"metadata": {"generation": 5}})json");
    std::vector<Json> pods = {k_crash_looping_pod};
    EXPECT_EQ(assess(deployment, pods),
              (Health{State::in_progress, "LatestGenerationNotObserved",
                      "waiting for the controller to observe generation 5"}));
}

TEST(Health, DeploymentWithoutObservedGenerationHasNotBeenSeenByItsController) {
    Json deployment = with(k_deployment, R"json({"metadata": {"generation": 1}, "status": null})json");
    EXPECT_EQ(assess(deployment), (Health{State::in_progress, "LatestGenerationNotObserved",
                                          "waiting for the controller to observe generation 1"}));
}

TEST(Health, PausedDeploymentWithPendingRolloutIsFailed) {
    Json deployment = with(k_deployment, R"json({"spec": {"paused": true}, "status": {
        "replicas": 3, "updatedReplicas": 0, "readyReplicas": 3, "availableReplicas": 3,
        "conditions": [
          {"type": "Available", "status": "True", "lastUpdateTime": "2024-05-02T09:15:01Z", "lastTransitionTime": "2024-05-02T09:15:01Z",
           "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability."},
          {"type": "Progressing", "status": "Unknown", "lastUpdateTime": "2024-05-06T13:02:44Z", "lastTransitionTime": "2024-05-06T13:02:44Z",
           "reason": "DeploymentPaused", "message": "Deployment is paused"}]}})json");
    EXPECT_EQ(assess(deployment),
              (Health{State::failed, "DeploymentPaused",
                      "rollout is paused (spec.paused): 0 of 3 replicas updated; resume it with kubectl rollout resume"}));
}

TEST(Health, PausedDeploymentWithNothingToRollOutIsCurrent) {
    Json deployment = with(k_deployment, R"json({"spec": {"paused": true}})json");
    EXPECT_EQ(assess(deployment).state, State::current);
}

TEST(Health, DeploymentThatCannotCreatePodsSaysWhy) {
    Json deployment = k_rolling_out;
    deployment["status"]["conditions"].push_back(Json::parse(R"json({"type": "ReplicaFailure", "status": "True",
        "lastUpdateTime": "2024-05-06T13:02:45Z", "lastTransitionTime": "2024-05-06T13:02:45Z", "reason": "FailedCreate",
        "message": "pods \"web-7d9c6b5f4-abcde\" is forbidden: exceeded quota: compute, requested: cpu=500m, used: cpu=2, limited: cpu=2"})json"));
    EXPECT_EQ(assess(deployment),
              (Health{State::in_progress, "ReplicaFailure",
                      "2 of 3 replicas updated; pods cannot be created: FailedCreate: pods \"web-7d9c6b5f4-abcde\" is "
                      "forbidden: exceeded quota: compute, requested: cpu=500m, used: cpu=2, limited: cpu=2"}));
}

// --- StatefulSet ----------------------------------------------------------------------------------

const Json k_stateful_set = Json::parse(R"json({
  "apiVersion": "apps/v1",
  "kind": "StatefulSet",
  "metadata": {"name": "db", "namespace": "shop", "uid": "a7c3e1f0-2b4d-4f6a-8c0e-1d3f5b7a9c2e",
               "resourceVersion": "51230", "generation": 3, "creationTimestamp": "2024-05-01T08:00:00Z",
               "labels": {"app.kubernetes.io/name": "db"}},
  "spec": {
    "replicas": 3,
    "selector": {"matchLabels": {"app.kubernetes.io/name": "db"}},
    "serviceName": "db",
    "podManagementPolicy": "OrderedReady",
    "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
    "revisionHistoryLimit": 10,
    "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
    "template": {"metadata": {"labels": {"app.kubernetes.io/name": "db"}},
                 "spec": {"containers": [{"name": "postgres", "image": "postgres:16.2"}]}}
  },
  "status": {"observedGeneration": 3, "replicas": 3, "readyReplicas": 3, "currentReplicas": 3, "updatedReplicas": 3,
             "availableReplicas": 3, "currentRevision": "db-5c8d7f9b6", "updateRevision": "db-5c8d7f9b6",
             "collisionCount": 0}
})json");

TEST(Health, StatefulSetRolledOutIsCurrent) {
    EXPECT_EQ(assess(k_stateful_set), (Health{State::current, "RolloutComplete", "3 of 3 replicas updated and ready"}));
}

TEST(Health, StatefulSetRollingUpdateStagesAreInProgress) {
    struct Case {
        std::string_view stage;
        std::string_view status;
        Health expected;
    };
    const std::vector<Case> cases = {
        {"pod being replaced", R"json({"replicas": 3, "readyReplicas": 2, "currentReplicas": 2, "updatedReplicas": 1,
              "availableReplicas": 2, "updateRevision": "db-6f4b9d8c7"})json",
         {State::in_progress, "WaitingForReadyReplicas", "2 of 3 replicas ready"}},
        {"one pod updated", R"json({"replicas": 3, "readyReplicas": 3, "currentReplicas": 2, "updatedReplicas": 1,
              "availableReplicas": 3, "updateRevision": "db-6f4b9d8c7"})json",
         {State::in_progress, "UpdatingReplicas", "1 of 3 replicas updated"}},
        {"all updated, revision not yet current", R"json({"replicas": 3, "readyReplicas": 3, "currentReplicas": 0,
              "updatedReplicas": 3, "availableReplicas": 3, "updateRevision": "db-6f4b9d8c7"})json",
         {State::in_progress, "WaitingForRevision", "waiting for revision db-6f4b9d8c7 to replace db-5c8d7f9b6"}},
        {"scaling down", R"json({"replicas": 4, "readyReplicas": 4, "currentReplicas": 4, "updatedReplicas": 4})json",
         {State::in_progress, "TerminatingExtraReplicas", "1 extra replica pending termination"}},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.stage);
        Json stateful_set = k_stateful_set;
        stateful_set["status"].merge_patch(Json::parse(c.status));
        EXPECT_EQ(assess(stateful_set), c.expected);
    }
}

TEST(Health, StatefulSetWithPartitionIsCurrentOnceOrdinalsAbovePartitionAreUpdated) {
    Json stateful_set = with(k_stateful_set, R"json({"spec": {"updateStrategy": {"rollingUpdate": {"partition": 2}}},
        "status": {"currentReplicas": 2, "updatedReplicas": 1, "updateRevision": "db-6f4b9d8c7"}})json");
    EXPECT_EQ(assess(stateful_set),
              (Health{State::current, "PartitionRolledOut",
                      "1 of 3 replicas updated; ordinals below partition 2 stay on the old revision"}));

    stateful_set["status"]["updatedReplicas"] = 0;
    EXPECT_EQ(assess(stateful_set), (Health{State::in_progress, "UpdatingReplicas",
                                            "0 of 1 replicas at or above partition 2 updated"}));
}

TEST(Health, StatefulSetWithOnDeleteStrategyOnlyWaitsForReadyPods) {
    Json stateful_set = with(k_stateful_set, R"json({"spec": {"updateStrategy": {"type": "OnDelete", "rollingUpdate": null}},
        "status": {"currentReplicas": 3, "updatedReplicas": 0, "updateRevision": "db-6f4b9d8c7"}})json");
    EXPECT_EQ(assess(stateful_set), (Health{State::current, "OnDeleteStrategy",
                                            "3 of 3 replicas ready (OnDelete: pods update only when deleted)"}));
    stateful_set["status"]["readyReplicas"] = 1;
    EXPECT_EQ(assess(stateful_set).state, State::in_progress);
}

TEST(Health, StatefulSetWithMinReadySecondsWaitsForAvailability) {
    Json stateful_set = with(k_stateful_set, R"json({"spec": {"minReadySeconds": 30}, "status": {"availableReplicas": 2}})json");
    EXPECT_EQ(assess(stateful_set), (Health{State::in_progress, "WaitingForAvailability", "2 of 3 replicas available"}));
}

TEST(Health, StatefulSetWithCrashLoopingPodIsFailed) {
    Json stateful_set = with(k_stateful_set, R"json({"status": {"readyReplicas": 2, "currentReplicas": 2, "updatedReplicas": 1,
        "updateRevision": "db-6f4b9d8c7"}})json");
    Json pod = with(k_crash_looping_pod, R"json({"metadata": {"name": "db-2"}})json");
    std::vector<Json> pods = {pod};
    Health health = assess(stateful_set, pods);
    EXPECT_EQ(health.state, State::failed);
    EXPECT_TRUE(health.message.starts_with("pod db-2 container main: CrashLoopBackOff")) << health.message;
}

// --- DaemonSet ------------------------------------------------------------------------------------

const Json k_daemon_set = Json::parse(R"json({
  "apiVersion": "apps/v1",
  "kind": "DaemonSet",
  "metadata": {"name": "log-agent", "namespace": "shop", "uid": "c2e4a6f8-1b3d-4e5f-9a7c-0e2d4f6b8a1c",
               "resourceVersion": "50101", "generation": 2, "creationTimestamp": "2024-05-01T08:00:00Z",
               "annotations": {"deprecated.daemonset.template.generation": "2"}},
  "spec": {
    "selector": {"matchLabels": {"app.kubernetes.io/name": "log-agent"}},
    "template": {"metadata": {"labels": {"app.kubernetes.io/name": "log-agent"}},
                 "spec": {"containers": [{"name": "agent", "image": "registry.example.com/shop/log-agent:1.4.0"}]}},
    "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
    "revisionHistoryLimit": 10
  },
  "status": {"currentNumberScheduled": 3, "numberMisscheduled": 0, "desiredNumberScheduled": 3, "numberReady": 3,
             "observedGeneration": 2, "updatedNumberScheduled": 3, "numberAvailable": 3}
})json");

TEST(Health, DaemonSetOnEveryNodeIsCurrent) {
    EXPECT_EQ(assess(k_daemon_set), (Health{State::current, "RolloutComplete", "3 of 3 pods updated and available"}));
}

TEST(Health, DaemonSetMidRolloutIsInProgress) {
    Json daemon_set = with(k_daemon_set, R"json({"status": {"numberReady": 2, "updatedNumberScheduled": 1,
        "numberAvailable": 2, "numberUnavailable": 1}})json");
    EXPECT_EQ(assess(daemon_set), (Health{State::in_progress, "UpdatingPods", "1 of 3 pods updated"}));

    daemon_set["status"]["updatedNumberScheduled"] = 3;
    EXPECT_EQ(assess(daemon_set), (Health{State::in_progress, "WaitingForAvailability", "2 of 3 pods available"}));
}

TEST(Health, DaemonSetWithoutDesiredCountIsInProgress) {
    Json daemon_set = with(k_daemon_set, R"json({"status": {"desiredNumberScheduled": null}})json");
    EXPECT_EQ(assess(daemon_set).reason, "WaitingForScheduling");
}

TEST(Health, DaemonSetWithOnDeleteStrategyDoesNotWaitForUpdates) {
    Json daemon_set = with(k_daemon_set, R"json({"spec": {"updateStrategy": {"type": "OnDelete", "rollingUpdate": null}},
        "status": {"updatedNumberScheduled": 0}})json");
    EXPECT_EQ(assess(daemon_set).state, State::current);
}

TEST(Health, DaemonSetOnNoNodesIsCurrent) {
    Json daemon_set = with(k_daemon_set, R"json({"status": {"currentNumberScheduled": 0, "desiredNumberScheduled": 0,
        "numberReady": 0, "updatedNumberScheduled": null, "numberAvailable": null}})json");
    EXPECT_EQ(assess(daemon_set).reason, "NoEligibleNodes");
}

// --- ReplicaSet -----------------------------------------------------------------------------------

const Json k_replica_set = Json::parse(R"json({
  "apiVersion": "apps/v1",
  "kind": "ReplicaSet",
  "metadata": {"name": "web-7d9c6b5f4", "namespace": "shop", "uid": "9e2b4c71-0f3a-4d8b-b5e6-7a1c2d3e4f50",
               "resourceVersion": "48212", "generation": 2, "creationTimestamp": "2024-05-06T13:02:44Z",
               "labels": {"app.kubernetes.io/name": "web", "pod-template-hash": "7d9c6b5f4"},
               "annotations": {"deployment.kubernetes.io/desired-replicas": "3", "deployment.kubernetes.io/max-replicas": "4",
                               "deployment.kubernetes.io/revision": "4"}},
  "spec": {"replicas": 3,
           "selector": {"matchLabels": {"app.kubernetes.io/name": "web", "pod-template-hash": "7d9c6b5f4"}},
           "template": {"metadata": {"labels": {"app.kubernetes.io/name": "web", "pod-template-hash": "7d9c6b5f4"}},
                        "spec": {"containers": [{"name": "main", "image": "registry.example.com/shop/web:4f2a9c1"}]}}},
  "status": {"replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 3, "availableReplicas": 3, "observedGeneration": 2}
})json");

TEST(Health, ReplicaSetWithAllReplicasAvailableIsCurrent) {
    EXPECT_EQ(assess(k_replica_set), (Health{State::current, "ReplicasAvailable", "3 of 3 replicas available"}));
}

TEST(Health, ReplicaSetWithUnavailableReplicasIsInProgress) {
    Json replica_set = with(k_replica_set, R"json({"status": {"readyReplicas": 1, "availableReplicas": 1}})json");
    EXPECT_EQ(assess(replica_set), (Health{State::in_progress, "WaitingForAvailability", "1 of 3 replicas available"}));
    replica_set = with(k_replica_set, R"json({"status": {"replicas": 2, "fullyLabeledReplicas": 2, "readyReplicas": 2,
        "availableReplicas": 2}})json");
    EXPECT_EQ(assess(replica_set), (Health{State::in_progress, "CreatingReplicas", "2 of 3 replicas created"}));
}

// --- Job and CronJob ------------------------------------------------------------------------------

const Json k_job = Json::parse(R"json({
  "apiVersion": "batch/v1",
  "kind": "Job",
  "metadata": {"name": "migrate-4f2a9c1", "namespace": "shop", "uid": "e1f3a5c7-9b2d-4f6e-8a0c-2e4f6a8c0b1d",
               "resourceVersion": "48300", "generation": 1, "creationTimestamp": "2024-05-06T13:05:10Z",
               "labels": {"batch.kubernetes.io/controller-uid": "e1f3a5c7-9b2d-4f6e-8a0c-2e4f6a8c0b1d",
                          "batch.kubernetes.io/job-name": "migrate-4f2a9c1"}},
  "spec": {"parallelism": 1, "completions": 1, "backoffLimit": 6, "completionMode": "NonIndexed", "suspend": false,
           "manualSelector": false, "podReplacementPolicy": "TerminatingOrFailed",
           "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "e1f3a5c7-9b2d-4f6e-8a0c-2e4f6a8c0b1d"}},
           "template": {"metadata": {"labels": {"batch.kubernetes.io/job-name": "migrate-4f2a9c1"}},
                        "spec": {"containers": [{"name": "migrate", "image": "registry.example.com/shop/web:4f2a9c1",
                                                 "command": ["/app/migrate"]}],
                                 "restartPolicy": "Never"}}},
  "status": {"startTime": "2024-05-06T13:05:10Z", "active": 1, "ready": 0, "terminating": 0,
             "uncountedTerminatedPods": {}}
})json");

TEST(Health, RunningJobIsInProgress) {
    EXPECT_EQ(assess(k_job), (Health{State::in_progress, "JobRunning", "0 of 1 completions, 1 active"}));
}

TEST(Health, CompleteJobIsCurrent) {
    Json job = with(k_job, R"json({"status": {"active": null, "succeeded": 1, "completionTime": "2024-05-06T13:05:41Z",
        "conditions": [
          {"type": "SuccessCriteriaMet", "status": "True", "lastProbeTime": "2024-05-06T13:05:41Z",
           "lastTransitionTime": "2024-05-06T13:05:41Z", "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods"},
          {"type": "Complete", "status": "True", "lastProbeTime": "2024-05-06T13:05:41Z",
           "lastTransitionTime": "2024-05-06T13:05:41Z", "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods"}]}})json");
    EXPECT_EQ(assess(job), (Health{State::current, "JobComplete", "complete: 1 of 1 completions"}));
}

TEST(Health, FailedJobIsFailedWithItsReason) {
    Json job = with(k_job, R"json({"status": {"active": null, "failed": 7,
        "conditions": [
          {"type": "FailureTarget", "status": "True", "lastProbeTime": "2024-05-06T13:09:02Z",
           "lastTransitionTime": "2024-05-06T13:09:02Z", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"},
          {"type": "Failed", "status": "True", "lastProbeTime": "2024-05-06T13:09:02Z",
           "lastTransitionTime": "2024-05-06T13:09:02Z", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]}})json");
    EXPECT_EQ(assess(job), (Health{State::failed, "BackoffLimitExceeded",
                                   "Job has reached the specified backoff limit (0 of 1 completions, 7 failed pods)"}));
}

TEST(Health, JobMarkedFailureTargetIsFailedBeforeItsPodsAreGone) {
    Json job = with(k_job, R"json({"status": {"active": 1, "failed": 1, "terminating": 1,
        "conditions": [{"type": "FailureTarget", "status": "True", "lastProbeTime": "2024-05-06T13:06:00Z",
          "lastTransitionTime": "2024-05-06T13:06:00Z", "reason": "DeadlineExceeded",
          "message": "Job was active longer than specified deadline"}]}})json");
    EXPECT_EQ(assess(job), (Health{State::failed, "DeadlineExceeded",
                                   "Job was active longer than specified deadline (0 of 1 completions, 1 failed pod)"}));
}

TEST(Health, JobNotStartedYetIsInProgress) {
    Json job = with(k_job, R"json({"status": null})json");
    EXPECT_EQ(assess(job), (Health{State::in_progress, "JobNotStarted", "waiting for the job controller to start it"}));
}

TEST(Health, SuspendedJobIsCurrentBecauseNothingWillRunIt) {
    Json job = with(k_job, R"json({"spec": {"suspend": true}, "status": {"startTime": null, "active": null,
        "conditions": [{"type": "Suspended", "status": "True", "lastProbeTime": "2024-05-06T13:05:10Z",
          "lastTransitionTime": "2024-05-06T13:05:10Z", "reason": "JobSuspended", "message": "Job suspended"}]}})json");
    EXPECT_EQ(assess(job), (Health{State::current, "JobSuspended", "suspended (spec.suspend); not waiting for it to run"}));
}

TEST(Health, WorkQueueJobCountsCompletionsWithoutATarget) {
    Json job = with(k_job, R"json({"spec": {"completions": null, "parallelism": 3},
        "status": {"active": 2, "succeeded": 1, "failed": 1}})json");
    EXPECT_EQ(assess(job), (Health{State::in_progress, "JobRunning", "1 completion, 2 active, 1 failed"}));
}

TEST(Health, JobWhosePodCannotPullItsImageIsFailed) {
    Json pod = with(k_image_pull_pod, R"json({"metadata": {"name": "migrate-4f2a9c1-7tq2m"},
        "status": {"containerStatuses": [{"name": "migrate", "ready": false, "restartCount": 0, "started": false,
          "image": "registry.example.com/shop/web:4f2a9c1", "imageID": "", "lastState": {},
          "state": {"waiting": {"reason": "ErrImagePull",
            "message": "failed to pull and unpack image \"registry.example.com/shop/web:4f2a9c1\": 401 Unauthorized"}}}]}})json");
    std::vector<Json> pods = {pod};
    EXPECT_EQ(assess(k_job, pods),
              (Health{State::failed, "ErrImagePull",
                      "pod migrate-4f2a9c1-7tq2m container migrate: ErrImagePull: failed to pull and unpack image "
                      "\"registry.example.com/shop/web:4f2a9c1\": 401 Unauthorized"}));
}

TEST(Health, JobIgnoresItsFinishedPods) {
    // Failed pods of a Job are retries the backoff limit accounts for, not a reason to stop waiting.
    Json failed_pod = with(k_new_pod, R"json({"metadata": {"name": "migrate-4f2a9c1-8xw3c"},
        "status": {"phase": "Failed", "containerStatuses": [{"name": "migrate", "ready": false, "restartCount": 0,
          "started": false, "image": "registry.example.com/shop/web:4f2a9c1", "imageID": "", "lastState": {},
          "state": {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": "2024-05-06T13:05:12Z",
                                   "finishedAt": "2024-05-06T13:05:13Z"}}}]}})json");
    std::vector<Json> pods = {failed_pod};
    EXPECT_EQ(assess(k_job, pods).state, State::in_progress);
}

TEST(Health, CronJobIsCurrent) {
    Json cron_job = Json::parse(R"json({"apiVersion": "batch/v1", "kind": "CronJob",
      "metadata": {"name": "report", "namespace": "shop", "generation": 1, "uid": "f0e1d2c3-b4a5-4968-8776-655443322110"},
      "spec": {"schedule": "0 3 * * *", "concurrencyPolicy": "Forbid", "suspend": false,
               "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1,
               "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "report", "image": "registry.example.com/shop/report:1.0"}],
                                                              "restartPolicy": "OnFailure"}}}}},
      "status": {}})json");
    EXPECT_EQ(assess(cron_job).state, State::current);
}

}  // namespace
}  // namespace minicd::health
