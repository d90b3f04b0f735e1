/*
 * identity.c - the CSI Identity service: who the plugin is, what it
 * serves, and whether it is ready (kairosd answers its health check).
 */
#include <kairos/client.h>

#include "csi.h"
#include "csi.pb-c.h"
#include "kairosd.h"
#include "log.h"

static void get_plugin_info(void *ctx, const ProtobufCMessage *in, struct csi_reply *r)
{
    const struct csi *c = ctx;
    Csi__V1__GetPluginInfoResponse out = CSI__V1__GET_PLUGIN_INFO_RESPONSE__INIT;
    Csi__V1__GetPluginInfoResponse__ManifestEntry url =
        CSI__V1__GET_PLUGIN_INFO_RESPONSE__MANIFEST_ENTRY__INIT;
    Csi__V1__GetPluginInfoResponse__ManifestEntry *manifest[] = {&url};

    (void)in;
    out.name = (char *)c->driver;
    out.vendor_version = CSI_VERSION;
    url.key = "kairosd";
    url.value = (char *)c->url;
    out.n_manifest = 1;
    out.manifest = manifest;
    csi_reply_ok(r, &out.base);
}

static void get_plugin_capabilities(void *ctx, const ProtobufCMessage *in, struct csi_reply *r)
{
    const struct csi *c = ctx;
    Csi__V1__GetPluginCapabilitiesResponse out = CSI__V1__GET_PLUGIN_CAPABILITIES_RESPONSE__INIT;
    Csi__V1__PluginCapability ctl = CSI__V1__PLUGIN_CAPABILITY__INIT,
                              grow = CSI__V1__PLUGIN_CAPABILITY__INIT;
    Csi__V1__PluginCapability__Service svc = CSI__V1__PLUGIN_CAPABILITY__SERVICE__INIT;
    Csi__V1__PluginCapability__VolumeExpansion exp =
        CSI__V1__PLUGIN_CAPABILITY__VOLUME_EXPANSION__INIT;
    Csi__V1__PluginCapability *caps[2];

    (void)in;
    /* Volumes and shares grow while in use; no topology: every node reaches the cluster. */
    exp.type = CSI__V1__PLUGIN_CAPABILITY__VOLUME_EXPANSION__TYPE__ONLINE;
    grow.type_case = CSI__V1__PLUGIN_CAPABILITY__TYPE_VOLUME_EXPANSION;
    grow.volume_expansion = &exp;
    caps[out.n_capabilities++] = &grow;
    if (c->controller) {
        svc.type = CSI__V1__PLUGIN_CAPABILITY__SERVICE__TYPE__CONTROLLER_SERVICE;
        ctl.type_case = CSI__V1__PLUGIN_CAPABILITY__TYPE_SERVICE;
        ctl.service = &svc;
        caps[out.n_capabilities++] = &ctl;
    }
    out.capabilities = caps;
    csi_reply_ok(r, &out.base);
}

static void probe(void *ctx, const ProtobufCMessage *in, struct csi_reply *r)
{
    const struct csi *c = ctx;
    struct kairos_client kc = {
        .url = c->url, .agent = "kairos-csi/" CSI_VERSION, .connect_timeout_s = 3, .timeout_s = 10};
    Csi__V1__ProbeResponse out = CSI__V1__PROBE_RESPONSE__INIT;
    Google__Protobuf__BoolValue ready = GOOGLE__PROTOBUF__BOOL_VALUE__INIT;
    struct kairos_error err = {0};
    json_t *answer = NULL;
    long status = 0;

    (void)in;
    /* Ready only while kairosd (and through it the cluster) answers. */
    if (kairos_client_call(&kc, "GET", "/healthz", NULL, &status, &answer, &err) < 0)
        csi_log(CSI_LOG_WARN, "Probe: not ready: %s", err.msg);
    else if (status != 200)
        csi_log(CSI_LOG_WARN, "Probe: not ready: kairosd's health check answers %ld", status);
    json_decref(answer);
    ready.value = status == 200;
    out.ready = &ready;
    csi_reply_ok(r, &out.base);
}

static const struct csi_method methods[] = {
    {"/csi.v1.Identity/GetPluginInfo", &csi__v1__get_plugin_info_request__descriptor,
     get_plugin_info},
    {"/csi.v1.Identity/GetPluginCapabilities",
     &csi__v1__get_plugin_capabilities_request__descriptor, get_plugin_capabilities},
    {"/csi.v1.Identity/Probe", &csi__v1__probe_request__descriptor, probe},
};

const struct csi_methods csi_identity_methods = {methods, sizeof(methods) / sizeof(methods[0])};
