#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "minicd/health/health.hpp"
#include "minicd/health/test_support.hpp"

namespace minicd::health {
namespace {

using model::Json;
using testing_support::with;

// A pod of Deployment web as the API server returns it, running and ready.
const Json k_pod = Json::parse(R"json({
  "apiVersion": "v1",
  "kind": "Pod",
  "metadata": {
    "name": "web-7d9c6b5f4-x2x8q",
    "generateName": "web-7d9c6b5f4-",
    "namespace": "shop",
    "uid": "3c1f0a9e-7b2d-4e8f-a6c5-91d0b2e4f7a3",
    "resourceVersion": "48190",
    "creationTimestamp": "2024-05-06T13:02:44Z",
    "labels": {"app.kubernetes.io/name": "web", "pod-template-hash": "7d9c6b5f4"},
    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d9c6b5f4",
                         "uid": "9e2b4c71-0f3a-4d8b-b5e6-7a1c2d3e4f50", "controller": true, "blockOwnerDeletion": true}]
  },
  "spec": {
    "containers": [{"name": "main", "image": "registry.example.com/shop/web@sha256:6f1e3b2a9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f",
                    "ports": [{"containerPort": 8080, "protocol": "TCP"}], "resources": {},
                    "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                    "imagePullPolicy": "IfNotPresent"}],
    "restartPolicy": "Always",
    "terminationGracePeriodSeconds": 30,
    "dnsPolicy": "ClusterFirst",
    "serviceAccountName": "default",
    "nodeName": "worker-2",
    "schedulerName": "default-scheduler",
    "priority": 0,
    "enableServiceLinks": true,
    "preemptionPolicy": "PreemptLowerPriority"
  },
  "status": {
    "phase": "Running",
    "conditions": [
      {"type": "PodReadyToStartContainers", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2024-05-06T13:02:46Z"},
      {"type": "Initialized", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2024-05-06T13:02:44Z"},
      {"type": "Ready", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2024-05-06T13:02:51Z"},
      {"type": "ContainersReady", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2024-05-06T13:02:51Z"},
      {"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2024-05-06T13:02:44Z"}
    ],
    "hostIP": "10.0.0.12",
    "hostIPs": [{"ip": "10.0.0.12"}],
    "podIP": "10.244.1.17",
    "podIPs": [{"ip": "10.244.1.17"}],
    "startTime": "2024-05-06T13:02:44Z",
    "containerStatuses": [{
      "name": "main",
      "state": {"running": {"startedAt": "2024-05-06T13:02:46Z"}},
      "lastState": {},
      "ready": true,
      "restartCount": 0,
      "image": "sha256:0c5e7a3f9b1d2c4e6a8f0b2d4c6e8a0f2b4d6c8e0a2f4b6d8c0e2a4f6b8d0c2e",
      "imageID": "registry.example.com/shop/web@sha256:6f1e3b2a9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f",
      "containerID": "containerd://b71f3e0d9c2a4b6e8f1a3c5e7b9d0f2a4c6e8b0d2f4a6c8e0b2d4f6a8c0e2b4d",
      "started": true
    }],
    "qosClass": "BestEffort"
  }
})json");

TEST(Health, RunningReadyPodIsCurrent) {
    EXPECT_EQ(assess(k_pod), (Health{State::current, "PodReady", "running and ready"}));
}

TEST(Health, SucceededPodIsCurrent) {
    Json pod = with(k_pod, R"json({"status": {"phase": "Succeeded", "containerStatuses": [{
      "name": "main", "ready": false, "restartCount": 0, "started": false, "image": "registry.example.com/shop/web:4f2a9c1",
      "imageID": "registry.example.com/shop/web@sha256:6f1e3b2a9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f",
      "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": "2024-05-06T13:02:46Z",
                               "finishedAt": "2024-05-06T13:03:10Z", "containerID": "containerd://b71f3e0d9c2a"}},
      "lastState": {}}]}})json");
    EXPECT_EQ(assess(pod), (Health{State::current, "PodSucceeded", "completed"}));
}

TEST(Health, FailedPodIsFailedWithTheContainerExitCodeButNotItsTerminationMessage) {
    Json pod = with(k_pod, R"json({"status": {"phase": "Failed", "containerStatuses": [{
      "name": "main", "ready": false, "restartCount": 0, "started": false, "image": "registry.example.com/shop/web:4f2a9c1",
      "imageID": "registry.example.com/shop/web@sha256:6f1e3b2a9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f",
      "state": {"terminated": {"exitCode": 2, "reason": "Error", "message": "migration 0042 failed:\nrelation \"orders\" does not exist\n",
                               "startedAt": "2024-05-06T13:02:46Z", "finishedAt": "2024-05-06T13:02:49Z",
                               "containerID": "containerd://b71f3e0d9c2a"}},
      "lastState": {}}]}})json");
    // The termination message is whatever the container wrote (with FallbackToLogsOnError, the end of
    // its log): it may hold secrets, and this text ends up in release records and CI logs.
    EXPECT_EQ(assess(pod), (Health{State::failed, "PodFailed",
                                   "pod web-7d9c6b5f4-x2x8q failed: container main exited with code 2 (Error)"}));
}

TEST(Health, EvictedPodIsFailedWithTheKubeletReason) {
    Json pod = with(k_pod, R"json({"status": {"phase": "Failed", "reason": "Evicted",
      "message": "The node was low on resource: memory. Threshold quantity: 100Mi, available: 91572Ki. Container main was using 1474560Ki, request is 0, has larger consumption of memory. ",
      "conditions": null, "containerStatuses": null, "podIP": null, "podIPs": null}})json");
    EXPECT_EQ(assess(pod),
              (Health{State::failed, "Evicted",
                      "pod web-7d9c6b5f4-x2x8q failed: Evicted: The node was low on resource: memory. Threshold "
                      "quantity: 100Mi, available: 91572Ki. Container main was using 1474560Ki, request is 0, has "
                      "larger consumption of memory."}));
}

TEST(Health, RunningPodThatIsNotReadyIsInProgress) {
    Json pod = with(k_pod, R"json({"status": {"conditions": [
      {"type": "Initialized", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2024-05-06T13:02:44Z"},
      {"type": "Ready", "status": "False", "lastProbeTime": null, "lastTransitionTime": "2024-05-06T13:02:44Z",
       "reason": "ContainersNotReady", "message": "containers with unready status: [main]"},
      {"type": "ContainersReady", "status": "False", "lastProbeTime": null, "lastTransitionTime": "2024-05-06T13:02:44Z",
       "reason": "ContainersNotReady", "message": "containers with unready status: [main]"},
      {"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2024-05-06T13:02:44Z"}]}})json");
    EXPECT_EQ(assess(pod), (Health{State::in_progress, "PodNotReady",
                                   "running, not ready: containers with unready status: [main]"}));
}

TEST(Health, PendingPodCreatingContainersIsInProgress) {
    Json pod = with(k_pod, R"json({"status": {"phase": "Pending", "podIP": null, "podIPs": null,
      "containerStatuses": [{"name": "main", "ready": false, "restartCount": 0, "started": false,
        "image": "registry.example.com/shop/web:4f2a9c1", "imageID": "", "lastState": {},
        "state": {"waiting": {"reason": "ContainerCreating"}}}]}})json");
    EXPECT_EQ(assess(pod), (Health{State::in_progress, "PodPending", "pending: container main ContainerCreating"}));
}

// Every waiting reason that waiting will not fix, as the kubelet reports it.
TEST(Health, PodWithAFailFastContainerStateIsFailedNamingPodAndContainer) {
    struct Case {
        std::string_view status;
        Health expected;
    };
    const std::vector<Case> cases = {
        {R"json({"phase": "Running", "containerStatuses": [{"name": "main", "ready": false, "restartCount": 3, "started": false,
            "image": "registry.example.com/shop/web:4f2a9c1", "imageID": "registry.example.com/shop/web@sha256:6f1e3b2a9c8d",
            "containerID": "containerd://0d9c2a4b6e8f",
            "state": {"waiting": {"reason": "CrashLoopBackOff",
              "message": "back-off 40s restarting failed container=main pod=web-7d9c6b5f4-x2x8q_shop(3c1f0a9e-7b2d-4e8f-a6c5-91d0b2e4f7a3)"}},
            "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled", "startedAt": "2024-05-06T13:03:30Z",
              "finishedAt": "2024-05-06T13:03:41Z", "containerID": "containerd://0d9c2a4b6e8f"}}}]})json",
         {State::failed, "CrashLoopBackOff",
          "pod web-7d9c6b5f4-x2x8q container main: CrashLoopBackOff: back-off 40s restarting failed container "
          "(last exit: OOMKilled, code 137)"}},
        {R"json({"phase": "Pending", "containerStatuses": [{"name": "main", "ready": false, "restartCount": 0, "started": false,
            "image": "registry.example.com/shop/web:4f2a9c1", "imageID": "", "lastState": {},
            "state": {"waiting": {"reason": "ImagePullBackOff",
              "message": "Back-off pulling image \"registry.example.com/shop/web:4f2a9c1\""}}}]})json",
         {State::failed, "ImagePullBackOff",
          "pod web-7d9c6b5f4-x2x8q container main: ImagePullBackOff: Back-off pulling image "
          "\"registry.example.com/shop/web:4f2a9c1\""}},
        {R"json({"phase": "Pending", "containerStatuses": [{"name": "main", "ready": false, "restartCount": 0, "started": false,
            "image": "registry.example.com/shop/web:4f2a9c1", "imageID": "", "lastState": {},
            "state": {"waiting": {"reason": "ErrImagePull",
              "message": "rpc error: code = NotFound desc = failed to pull and unpack image \"registry.example.com/shop/web:4f2a9c1\": failed to resolve reference \"registry.example.com/shop/web:4f2a9c1\": registry.example.com/shop/web:4f2a9c1: not found"}}}]})json",
         {State::failed, "ErrImagePull",
          "pod web-7d9c6b5f4-x2x8q container main: ErrImagePull: rpc error: code = NotFound desc = failed to pull "
          "and unpack image \"registry.example.com/shop/web:4f2a9c1\": failed to resolve reference "
          "\"registry.example.com/shop/web:4f2a9c1\": registry.example.com/shop/web:4f2a9c1: not found"}},
        {R"json({"phase": "Pending", "containerStatuses": [{"name": "main", "ready": false, "restartCount": 0, "started": false,
            "image": "registry.example.com/shop/Web:4f2a9c1", "imageID": "", "lastState": {},
            "state": {"waiting": {"reason": "InvalidImageName",
              "message": "Failed to apply default image tag \"registry.example.com/shop/Web:4f2a9c1\": couldn't parse image name \"registry.example.com/shop/Web:4f2a9c1\": invalid reference format: repository name must be lowercase"}}}]})json",
         {State::failed, "InvalidImageName",
          "pod web-7d9c6b5f4-x2x8q container main: InvalidImageName: Failed to apply default image tag "
          "\"registry.example.com/shop/Web:4f2a9c1\": couldn't parse image name "
          "\"registry.example.com/shop/Web:4f2a9c1\": invalid reference format: repository name must be lowercase"}},
        {R"json({"phase": "Pending", "containerStatuses": [{"name": "main", "ready": false, "restartCount": 0, "started": false,
            "image": "registry.example.com/shop/web:4f2a9c1", "imageID": "", "lastState": {},
            "state": {"waiting": {"reason": "CreateContainerConfigError",
              "message": "secret \"web-env\" not found"}}}]})json",
         {State::failed, "CreateContainerConfigError",
          "pod web-7d9c6b5f4-x2x8q container main: CreateContainerConfigError: secret \"web-env\" not found"}},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.expected.reason);
        Json pod = with(k_pod, R"json({"status": {"conditions": null}})json");
        pod["status"].merge_patch(Json::parse(c.status));
        EXPECT_EQ(assess(pod), c.expected);
    }
}

TEST(Health, CrashLoopingInitContainerIsNamed) {
    Json pod = with(k_pod, R"json({"status": {"phase": "Pending",
      "initContainerStatuses": [{"name": "migrate", "ready": false, "restartCount": 4, "started": false,
        "image": "registry.example.com/shop/web:4f2a9c1", "imageID": "registry.example.com/shop/web@sha256:6f1e3b2a9c8d",
        "state": {"waiting": {"reason": "CrashLoopBackOff",
          "message": "back-off 1m20s restarting failed container=migrate pod=web-7d9c6b5f4-x2x8q_shop(3c1f0a9e-7b2d-4e8f-a6c5-91d0b2e4f7a3)"}},
        "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": "2024-05-06T13:04:02Z",
          "finishedAt": "2024-05-06T13:04:03Z", "containerID": "containerd://4b6e8f1a3c5e"}}}],
      "containerStatuses": [{"name": "main", "ready": false, "restartCount": 0, "started": false,
        "image": "registry.example.com/shop/web:4f2a9c1", "imageID": "", "lastState": {},
        "state": {"waiting": {"reason": "PodInitializing"}}}]}})json");
    EXPECT_EQ(assess(pod), (Health{State::failed, "CrashLoopBackOff",
                                   "pod web-7d9c6b5f4-x2x8q container migrate: CrashLoopBackOff: back-off 1m20s "
                                   "restarting failed container (last exit: Error, code 1)"}));
}

const Json k_unschedulable_status = Json::parse(R"json({"status": {"phase": "Pending", "podIP": null, "podIPs": null,
  "hostIP": null, "hostIPs": null, "startTime": null, "containerStatuses": null, "qosClass": "Burstable",
  "conditions": [{"type": "PodScheduled", "status": "False", "lastProbeTime": null,
    "lastTransitionTime": "2024-05-06T13:02:44Z", "reason": "Unschedulable",
    "message": "0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."}]}})json");

TEST(Health, UnschedulablePodIsFailedWithTheSchedulerMessage) {
    Json pod = with(k_pod, R"json({"spec": {"nodeName": null}})json");
    pod.merge_patch(k_unschedulable_status);
    EXPECT_EQ(assess(pod), (Health{State::failed, "Unschedulable",
                                   "pod web-7d9c6b5f4-x2x8q: Unschedulable: 0/3 nodes are available: 3 Insufficient "
                                   "memory. preemption: 0/3 nodes are available: 3 No preemption victims found for "
                                   "incoming pod."}));
}

TEST(Health, UnschedulablePodWaitingForPreemptionIsInProgress) {
    Json pod = with(k_pod, R"json({"spec": {"nodeName": null}})json");
    pod.merge_patch(k_unschedulable_status);
    pod["status"]["nominatedNodeName"] = "worker-3";
    EXPECT_EQ(assess(pod).state, State::in_progress);
}

TEST(Health, LongMultiLineMessagesAreCutToOneShortLine) {
    std::string noise(1000, 'x');
    Json pod = with(k_pod, R"json({"status": {"phase": "Failed", "reason": "DeadlineExceeded"}})json");
    pod["status"]["message"] = "Pod was active on the node longer than the specified deadline\n" + noise;
    Health health = assess(pod);
    EXPECT_EQ(health.state, State::failed);
    EXPECT_EQ(health.message.find('\n'), std::string::npos);
    EXPECT_LT(health.message.size(), 320U);
    EXPECT_TRUE(health.message.ends_with("..."));
}

}  // namespace
}  // namespace minicd::health
