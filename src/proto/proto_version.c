/* Placeholder so the proto library is never empty; replaced as the layer grows. */
const char *ep_proto_layer_name(void);
const char *ep_proto_layer_name(void) { return "proto"; }
