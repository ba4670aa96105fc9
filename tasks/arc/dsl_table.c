// The ARC DSL's primitive table: name, signature, function. The order is the opcode, so appending keeps compiled
// programs' meaning; docs/arc-dsl.md lists the same primitives with their definitions.
#include "tasks/arc/dsl_impl.h"

#define P(name, sig) {#name, sig, dsl_##name}
const dsl_prim dsl_prims[] = {
    P(rot90, "g:g"),         P(rot180, "g:g"),      P(rot270, "g:g"),       P(flip_lr, "g:g"),
    P(flip_ud, "g:g"),       P(transpose, "g:g"),   P(antitranspose, "g:g"), P(upscale, "g:gi"),
    P(hupscale, "g:gi"),     P(vupscale, "g:gi"),   P(downscale, "g:gi"),   P(tile, "g:gii"),
    P(hconcat, "g:gg"),      P(vconcat, "g:gg"),    P(tophalf, "g:g"),      P(bottomhalf, "g:g"),
    P(lefthalf, "g:g"),      P(righthalf, "g:g"),   P(hsplit, "g:gii"),     P(vsplit, "g:gii"),
    P(crop, "g:giiii"),      P(trim, "g:g"),        P(replace, "g:gcc"),    P(swap, "g:gcc"),
    P(recolor, "g:gc"),      P(keep, "g:gc"),       P(fill, "g:gc"),        P(canvas, "g:cii"),
    P(mostcolor, "i:g"),     P(leastcolor, "i:g"),  P(mostfg, "i:g"),       P(ncolors, "i:g"),
    P(height, "i:g"),        P(width, "i:g"),       P(cellwise, "g:ggc"),   P(overlay, "g:gg"),
    P(mask, "g:gg"),         P(and, "g:ggc"),       P(or, "g:ggc"),         P(xor, "g:ggc"),
    P(nor, "g:ggc"),         P(bbox, "g:gc"),       P(shrink, "g:gc"),      P(largest, "g:gc"),
};
const int dsl_nprims = (int)(sizeof dsl_prims / sizeof dsl_prims[0]);

int arc_dsl_prim_count(void) { return dsl_nprims; }
const char *arc_dsl_prim_name(int op) { return op >= 0 && op < dsl_nprims ? dsl_prims[op].name : NULL; }
const char *arc_dsl_prim_sig(int op) { return op >= 0 && op < dsl_nprims ? dsl_prims[op].sig : NULL; }
