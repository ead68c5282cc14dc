/* Placeholder so the dir library is never empty; replaced as the layer grows. */
const char *ep_dir_layer_name(void);
const char *ep_dir_layer_name(void) { return "dir"; }
