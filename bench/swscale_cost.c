/* What the software renderer's one libswscale pass costs, per scaling
 * method: YUV 4:2:0 -> BGRA (AV_PIX_FMT_RGB32 on little-endian), one
 * thread, CPU time per frame. docs/BENCHMARK.md has the figures.
 *   cc -O2 bench/swscale_cost.c -o /tmp/swscale_cost -lswscale -lavutil
 *   /tmp/swscale_cost SRC_W SRC_H DST_W DST_H                            */
#include <libavutil/frame.h>
#include <libswscale/swscale.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s SRC_W SRC_H DST_W DST_H\n", argv[0]);
        return 64;
    }
    const int sw = atoi(argv[1]), sh = atoi(argv[2]), dw = atoi(argv[3]), dh = atoi(argv[4]);
    const struct { int flag; const char *name; } methods[] = {
        {SWS_FAST_BILINEAR, "fast_bilinear"}, {SWS_BILINEAR, "bilinear"}, {SWS_POINT, "point"},
        {SWS_AREA, "area"}, {SWS_BICUBIC, "bicubic"},
    };
    AVFrame *src = av_frame_alloc();
    uint8_t *dst = malloc((size_t)dw * 4 * dh);
    if (!src || !dst)
        return 1;
    src->width = sw;
    src->height = sh;
    src->format = AV_PIX_FMT_YUV420P;
    if (av_frame_get_buffer(src, 64) < 0) {
        fprintf(stderr, "cannot allocate a %dx%d frame\n", sw, sh);
        return 1;
    }
    for (int p = 0; p < 3; ++p) /* a pattern, so that no path sees flat input */
        for (int y = 0; y < (p ? (sh + 1) / 2 : sh); ++y)
            for (int x = 0; x < src->linesize[p]; ++x)
                src->data[p][y * src->linesize[p] + x] = (uint8_t)(x * 7 + y * 3 + p * 50);
    for (size_t m = 0; m < sizeof methods / sizeof methods[0]; ++m) {
        struct SwsContext *c = sws_getContext(sw, sh, AV_PIX_FMT_YUV420P, dw, dh, AV_PIX_FMT_BGRA,
                                              methods[m].flag, NULL, NULL, NULL);
        if (!c) {
            fprintf(stderr, "libswscale cannot scale %dx%d to %dx%d with %s\n", sw, sh, dw, dh, methods[m].name);
            return 1;
        }
        uint8_t *d[4] = {dst};
        int ls[4] = {dw * 4};
        sws_scale(c, (const uint8_t *const *)src->data, src->linesize, 0, sh, d, ls); /* warm up */
        const int n = 50;
        const double t = cpu_now();
        for (int i = 0; i < n; ++i)
            sws_scale(c, (const uint8_t *const *)src->data, src->linesize, 0, sh, d, ls);
        printf("%-13s %dx%d -> %dx%d: %.2f ms\n", methods[m].name, sw, sh, dw, dh, (cpu_now() - t) * 1000 / n);
        sws_freeContext(c);
    }
    free(dst);
    av_frame_free(&src);
    return 0;
}
