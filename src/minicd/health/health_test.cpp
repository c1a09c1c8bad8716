#include <gtest/gtest.h>

#include "minicd/health/health.hpp"
#include "minicd/health/test_support.hpp"

namespace minicd::health {
namespace {

using model::Json;
using testing_support::with;

// --- Generic rules --------------------------------------------------------------------------------

// cert-manager Certificate right after it was created: issuance has started.
const Json k_certificate_issuing = Json::parse(R"json({
  "apiVersion": "cert-manager.io/v1",
  "kind": "Certificate",
  "metadata": {"name": "web-tls", "namespace": "shop", "uid": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
               "resourceVersion": "48400", "generation": 1, "creationTimestamp": "2024-05-06T13:02:44Z",
               "ownerReferences": [{"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "web",
                                    "uid": "7f8e9d0c-1b2a-4394-a5b6-c7d8e9f0a1b2", "controller": true, "blockOwnerDeletion": true}]},
  "spec": {"secretName": "web-tls", "dnsNames": ["shop.example.com"], "usages": ["digital signature", "key encipherment"],
           "issuerRef": {"name": "letsencrypt", "kind": "ClusterIssuer", "group": "cert-manager.io"}},
  "status": {
    "conditions": [
      {"type": "Ready", "status": "False", "lastTransitionTime": "2024-05-06T13:02:44Z", "reason": "DoesNotExist",
       "message": "Issuing certificate as Secret does not exist", "observedGeneration": 1},
      {"type": "Issuing", "status": "True", "lastTransitionTime": "2024-05-06T13:02:44Z", "reason": "DoesNotExist",
       "message": "Issuing certificate as Secret does not exist", "observedGeneration": 1}
    ],
    "nextPrivateKeySecretName": "web-tls-8xk2p"
  }
})json");

const Json k_certificate_ready = with(k_certificate_issuing, R"json({"status": {
    "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2024-05-06T13:03:31Z", "reason": "Ready",
                    "message": "Certificate is up to date and has not expired", "observedGeneration": 1}],
    "nextPrivateKeySecretName": null,
    "notAfter": "2024-08-04T12:03:30Z", "notBefore": "2024-05-06T12:03:31Z", "renewalTime": "2024-07-05T12:03:30Z",
    "revision": 1}})json");

TEST(Health, CertificateIsInProgressWhileReadyIsFalseThenCurrent) {
    EXPECT_EQ(assess(k_certificate_issuing),
              (Health{State::in_progress, "DoesNotExist", "Issuing certificate as Secret does not exist"}));
    EXPECT_EQ(assess(k_certificate_ready),
              (Health{State::current, "Ready", "Certificate is up to date and has not expired"}));
}

TEST(Health, ReadyConditionFromAnOlderGenerationIsNotTrusted) {
    // The dnsNames just changed; cert-manager has not looked at generation 2 yet.
    Json certificate = with(k_certificate_ready, R"json({"metadata": {"generation": 2}})json");
    EXPECT_EQ(assess(certificate), (Health{State::in_progress, "LatestGenerationNotObserved",
                                           "waiting for the controller to observe generation 2"}));
}

TEST(Health, ObjectWithUnobservedGenerationIsInProgress) {
    Json kustomization = Json::parse(R"json({
      "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
      "metadata": {"name": "apps", "namespace": "flux-system", "generation": 7, "uid": "1d2e3f4a-5b6c-4d7e-8f90-a1b2c3d4e5f6"},
      "spec": {"interval": "10m", "path": "./apps/staging", "prune": true,
               "sourceRef": {"kind": "GitRepository", "name": "flux-system"}},
      "status": {"observedGeneration": 6, "lastAppliedRevision": "main@sha1:4f2a9c1e",
        "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2024-05-06T12:00:00Z",
                        "reason": "ReconciliationSucceeded", "message": "Applied revision: main@sha1:4f2a9c1e",
                        "observedGeneration": 6}]}})json");
    EXPECT_EQ(assess(kustomization), (Health{State::in_progress, "LatestGenerationNotObserved",
                                             "waiting for the controller to observe generation 7"}));
}

TEST(Health, StalledConditionIsFailedAndReconcilingIsInProgress) {
    const Json base = Json::parse(R"json({
      "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
      "metadata": {"name": "apps", "namespace": "flux-system", "generation": 7, "uid": "1d2e3f4a-5b6c-4d7e-8f90-a1b2c3d4e5f6"},
      "spec": {"interval": "10m", "path": "./apps/staging", "prune": true,
               "sourceRef": {"kind": "GitRepository", "name": "flux-system"}},
      "status": {"observedGeneration": 7}})json");

    Json stalled = with(base, R"json({"status": {"conditions": [
        {"type": "Stalled", "status": "True", "lastTransitionTime": "2024-05-06T13:02:44Z", "reason": "BuildFailed",
         "message": "kustomization path not found: stat /tmp/kustomization-4096/apps/staging: no such file or directory",
         "observedGeneration": 7},
        {"type": "Ready", "status": "False", "lastTransitionTime": "2024-05-06T13:02:44Z", "reason": "BuildFailed",
         "message": "kustomization path not found", "observedGeneration": 7}]}})json");
    EXPECT_EQ(assess(stalled),
              (Health{State::failed, "BuildFailed",
                      "stalled: kustomization path not found: stat /tmp/kustomization-4096/apps/staging: no such file "
                      "or directory"}));

    Json reconciling = with(base, R"json({"status": {"conditions": [
        {"type": "Reconciling", "status": "True", "lastTransitionTime": "2024-05-06T13:02:44Z", "reason": "Progressing",
         "message": "Running health checks for revision main@sha1:4f2a9c1e with a timeout of 5m0s", "observedGeneration": 7},
        {"type": "Ready", "status": "Unknown", "lastTransitionTime": "2024-05-06T13:02:44Z", "reason": "Progressing",
         "message": "Reconciliation in progress", "observedGeneration": 7}]}})json");
    EXPECT_EQ(assess(reconciling),
              (Health{State::in_progress, "Progressing",
                      "Running health checks for revision main@sha1:4f2a9c1e with a timeout of 5m0s"}));
}

TEST(Health, ObjectBeingDeletedIsInProgressNamingItsFinalizers) {
    Json certificate = with(k_certificate_ready, R"json({"metadata": {"deletionTimestamp": "2024-05-06T14:00:00Z",
        "deletionGracePeriodSeconds": 0, "finalizers": ["cert-manager.io/certificate-cleanup"]}})json");
    EXPECT_EQ(assess(certificate), (Health{State::in_progress, "Terminating",
                                           "being deleted; waiting for finalizers: cert-manager.io/certificate-cleanup"}));
}

TEST(Health, CustomResourceNamedServiceUsesItsReadyCondition) {
    // Knative's Service is not a core Service: its kind rule must not claim it is current.
    Json knative = Json::parse(R"json({
      "apiVersion": "serving.knative.dev/v1", "kind": "Service",
      "metadata": {"name": "hello", "namespace": "shop", "generation": 1, "uid": "2b3c4d5e-6f70-4182-93a4-b5c6d7e8f9a0"},
      "spec": {"template": {"spec": {"containers": [{"image": "registry.example.com/shop/hello:1.0"}]}}},
      "status": {"observedGeneration": 1, "latestCreatedRevisionName": "hello-00001",
        "conditions": [
          {"type": "ConfigurationsReady", "status": "Unknown", "lastTransitionTime": "2024-05-06T13:02:44Z"},
          {"type": "Ready", "status": "Unknown", "lastTransitionTime": "2024-05-06T13:02:44Z",
           "reason": "RevisionMissing", "message": "Configuration \"hello\" is waiting for a Revision to become ready."},
          {"type": "RoutesReady", "status": "Unknown", "lastTransitionTime": "2024-05-06T13:02:44Z",
           "reason": "RevisionMissing", "message": "Configuration \"hello\" is waiting for a Revision to become ready."}]}})json");
    EXPECT_EQ(assess(knative), (Health{State::in_progress, "RevisionMissing",
                                       "Configuration \"hello\" is waiting for a Revision to become ready."}));
}

TEST(Health, ObjectWithoutStatusIsCurrent) {
    Json config_map = Json::parse(R"json({"apiVersion": "v1", "kind": "ConfigMap",
      "metadata": {"name": "web-config", "namespace": "shop", "uid": "3c4d5e6f-7081-4293-a4b5-c6d7e8f9a0b1",
                   "resourceVersion": "48100", "creationTimestamp": "2024-05-06T13:02:44Z"},
      "data": {"LOG_LEVEL": "info"}})json");
    EXPECT_EQ(assess(config_map), (Health{State::current, "NoReadinessConditions", "nothing to wait for"}));
}

TEST(Health, MalformedStatusFieldsReadAsAbsentInsteadOfThrowing) {
    Json odd = with(k_certificate_ready, R"json({"metadata": {"generation": "one"},
        "status": {"conditions": [{"type": "Ready", "status": true}, 7, null], "observedGeneration": [1]}})json");
    EXPECT_EQ(assess(odd).state, State::in_progress);
    Json deployment = Json::parse(R"json({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "generation": 2}, "spec": {"replicas": "3"}, "status": "broken"})json");
    EXPECT_EQ(assess(deployment).state, State::in_progress);
    EXPECT_EQ(assess(Json()).state, State::current);
}

TEST(Health, StatesHaveKstatusNames) {
    EXPECT_EQ(to_string(State::current), "Current");
    EXPECT_EQ(to_string(State::in_progress), "InProgress");
    EXPECT_EQ(to_string(State::failed), "Failed");
}

// --- PersistentVolumeClaim ------------------------------------------------------------------------

const Json k_claim = Json::parse(R"json({
  "apiVersion": "v1",
  "kind": "PersistentVolumeClaim",
  "metadata": {"name": "data-db-0", "namespace": "shop", "uid": "4d5e6f70-8192-43a4-b5c6-d7e8f9a0b1c2",
               "resourceVersion": "51002", "creationTimestamp": "2024-05-01T08:00:01Z",
               "labels": {"app.kubernetes.io/name": "db"},
               "annotations": {"pv.kubernetes.io/bind-completed": "yes", "pv.kubernetes.io/bound-by-controller": "yes",
                               "volume.beta.kubernetes.io/storage-provisioner": "rancher.io/local-path",
                               "volume.kubernetes.io/storage-provisioner": "rancher.io/local-path"},
               "finalizers": ["kubernetes.io/pvc-protection"]},
  "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
           "storageClassName": "local-path", "volumeMode": "Filesystem",
           "volumeName": "pvc-4d5e6f70-8192-43a4-b5c6-d7e8f9a0b1c2"},
  "status": {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}}
})json");

TEST(Health, BoundClaimIsCurrentPendingIsInProgressLostIsFailed) {
    EXPECT_EQ(assess(k_claim),
              (Health{State::current, "Bound", "bound to pvc-4d5e6f70-8192-43a4-b5c6-d7e8f9a0b1c2"}));
    Json pending = with(k_claim, R"json({"metadata": {"annotations": null}, "spec": {"volumeName": null},
        "status": {"phase": "Pending", "accessModes": null, "capacity": null}})json");
    EXPECT_EQ(assess(pending).state, State::in_progress);
    EXPECT_EQ(assess(pending).reason, "ClaimPending");
    Json lost = with(k_claim, R"json({"status": {"phase": "Lost"}})json");
    EXPECT_EQ(assess(lost), (Health{State::failed, "ClaimLost",
                                    "the bound volume pvc-4d5e6f70-8192-43a4-b5c6-d7e8f9a0b1c2 no longer exists"}));
}

// --- Service and Ingress --------------------------------------------------------------------------

const Json k_load_balancer = Json::parse(R"json({
  "apiVersion": "v1",
  "kind": "Service",
  "metadata": {"name": "web-public", "namespace": "shop", "uid": "5e6f7081-92a3-44b5-86c7-d8e9f0a1b2c3",
               "resourceVersion": "48120", "creationTimestamp": "2024-05-06T13:02:44Z"},
  "spec": {"type": "LoadBalancer", "clusterIP": "10.96.141.7", "clusterIPs": ["10.96.141.7"],
           "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080, "nodePort": 31847}],
           "selector": {"app.kubernetes.io/name": "web"}, "sessionAffinity": "None",
           "externalTrafficPolicy": "Cluster", "internalTrafficPolicy": "Cluster",
           "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack", "allocateLoadBalancerNodePorts": true},
  "status": {"loadBalancer": {}}
})json");

const AssessOptions k_wait_for_address{.wait_for_load_balancer = true};

TEST(Health, LoadBalancerWithoutAddressIsCurrentUnlessAskedToWait) {
    EXPECT_EQ(assess(k_load_balancer),
              (Health{State::current, "LoadBalancerNotAwaited", "no load-balancer address yet (not waited for)"}));
    EXPECT_EQ(assess(k_load_balancer, {}, k_wait_for_address),
              (Health{State::in_progress, "WaitingForLoadBalancer",
                      "waiting for a load-balancer address (status.loadBalancer.ingress)"}));
}

TEST(Health, LoadBalancerWithAddressIsCurrent) {
    Json service = with(k_load_balancer, R"json({"status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.10", "ipMode": "VIP"}]}}})json");
    EXPECT_EQ(assess(service, {}, k_wait_for_address),
              (Health{State::current, "LoadBalancerReady", "load balancer at 203.0.113.10"}));
}

TEST(Health, ClusterIPServiceIsCurrent) {
    Json service = with(k_load_balancer, R"json({"spec": {"type": "ClusterIP", "externalTrafficPolicy": null,
        "allocateLoadBalancerNodePorts": null, "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]}})json");
    EXPECT_EQ(assess(service, {}, k_wait_for_address), (Health{State::current, "ServiceReady", "ClusterIP service"}));
}

const Json k_ingress = Json::parse(R"json({
  "apiVersion": "networking.k8s.io/v1",
  "kind": "Ingress",
  "metadata": {"name": "web", "namespace": "shop", "uid": "7f8e9d0c-1b2a-4394-a5b6-c7d8e9f0a1b2",
               "resourceVersion": "48130", "generation": 1, "creationTimestamp": "2024-05-06T13:02:44Z",
               "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt"}},
  "spec": {"ingressClassName": "nginx",
           "tls": [{"hosts": ["shop.example.com"], "secretName": "web-tls"}],
           "rules": [{"host": "shop.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix",
                      "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]},
  "status": {"loadBalancer": {}}
})json");

TEST(Health, IngressIsCurrentUnlessAskedToWaitForItsAddress) {
    EXPECT_EQ(assess(k_ingress).state, State::current);
    EXPECT_EQ(assess(k_ingress, {}, k_wait_for_address).state, State::in_progress);
    Json with_address = with(k_ingress, R"json({"status": {"loadBalancer": {"ingress": [
        {"hostname": "a1b2c3d4e5f6-1234567890.eu-west-1.elb.amazonaws.com"}]}}})json");
    EXPECT_EQ(assess(with_address, {}, k_wait_for_address),
              (Health{State::current, "LoadBalancerReady",
                      "load balancer at a1b2c3d4e5f6-1234567890.eu-west-1.elb.amazonaws.com"}));
}

// --- Namespace and CustomResourceDefinition -------------------------------------------------------

const Json k_namespace = Json::parse(R"json({
  "apiVersion": "v1",
  "kind": "Namespace",
  "metadata": {"name": "preview-feature-cart", "uid": "6f708192-a3b4-45c6-97d8-e9f0a1b2c3d4",
               "resourceVersion": "47000", "creationTimestamp": "2024-05-06T12:00:00Z",
               "labels": {"kubernetes.io/metadata.name": "preview-feature-cart", "app.kubernetes.io/managed-by": "minicd"}},
  "spec": {"finalizers": ["kubernetes"]},
  "status": {"phase": "Active"}
})json");

TEST(Health, ActiveNamespaceIsCurrentTerminatingIsInProgress) {
    EXPECT_EQ(assess(k_namespace), (Health{State::current, "NamespaceActive", "active"}));
    Json terminating = with(k_namespace, R"json({"metadata": {"deletionTimestamp": "2024-05-06T14:00:00Z"},
        "status": {"phase": "Terminating", "conditions": [
          {"type": "NamespaceContentRemaining", "status": "True", "lastTransitionTime": "2024-05-06T14:00:05Z",
           "reason": "SomeResourcesRemain", "message": "Some resources are remaining: pods. has 2 resource instances"}]}})json");
    EXPECT_EQ(assess(terminating), (Health{State::in_progress, "Terminating", "being deleted"}));
}

const Json k_crd = Json::parse(R"json({
  "apiVersion": "apiextensions.k8s.io/v1",
  "kind": "CustomResourceDefinition",
  "metadata": {"name": "widgets.shop.example.com", "uid": "708192a3-b4c5-46d7-a8e9-f0a1b2c3d4e5",
               "resourceVersion": "46000", "generation": 1, "creationTimestamp": "2024-05-06T12:00:00Z"},
  "spec": {"group": "shop.example.com", "scope": "Namespaced", "conversion": {"strategy": "None"},
           "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
           "versions": [{"name": "v1", "served": true, "storage": true,
                         "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]},
  "status": {
    "conditions": [
      {"type": "NamesAccepted", "status": "True", "lastTransitionTime": "2024-05-06T12:00:00Z", "reason": "NoConflicts",
       "message": "no conflicts found"},
      {"type": "Established", "status": "True", "lastTransitionTime": "2024-05-06T12:00:00Z", "reason": "InitialNamesAccepted",
       "message": "the initial names have been accepted"}
    ],
    "acceptedNames": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
    "storedVersions": ["v1"]
  }
})json");

TEST(Health, EstablishedCustomResourceDefinitionIsCurrent) {
    EXPECT_EQ(assess(k_crd), (Health{State::current, "Established", "established"}));
}

TEST(Health, CustomResourceDefinitionWithConflictingNamesIsFailed) {
    Json crd = with(k_crd, R"json({"status": {"acceptedNames": {"plural": "", "kind": ""}, "storedVersions": null,
        "conditions": [
          {"type": "NamesAccepted", "status": "False", "lastTransitionTime": "2024-05-06T12:00:00Z", "reason": "ListKindConflict",
           "message": "\"WidgetList\" is already in use"},
          {"type": "Established", "status": "False", "lastTransitionTime": "2024-05-06T12:00:00Z", "reason": "NotAccepted",
           "message": "not all names are accepted"}]}})json");
    EXPECT_EQ(assess(crd), (Health{State::failed, "ListKindConflict", "names not accepted: \"WidgetList\" is already in use"}));
}

TEST(Health, CustomResourceDefinitionNotYetEstablishedIsInProgress) {
    Json crd = with(k_crd, R"json({"status": {"conditions": [
        {"type": "NamesAccepted", "status": "True", "lastTransitionTime": "2024-05-06T12:00:00Z", "reason": "NoConflicts",
         "message": "no conflicts found"},
        {"type": "Established", "status": "False", "lastTransitionTime": "2024-05-06T12:00:00Z", "reason": "Installing",
         "message": "the initial names have been accepted"}]}})json");
    EXPECT_EQ(assess(crd).state, State::in_progress);
}

}  // namespace
}  // namespace minicd::health
