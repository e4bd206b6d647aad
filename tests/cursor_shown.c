/* cursor_shown: prints how many pixels of the X server's current mouse
 * cursor are not fully transparent (XFixesGetCursorImage), so a test can
 * tell a hidden cursor (0: Qt's BlankCursor) from a shown one. Screenshots
 * cannot: they never contain the cursor. Exit 1 if the display or the XFixes
 * extension is missing. */
#include <X11/Xlib.h>
#include <X11/extensions/Xfixes.h>
#include <stdio.h>

int main(void)
{
    Display *display = XOpenDisplay(NULL);
    if (!display) {
        fprintf(stderr, "cursor_shown: cannot open the display (is DISPLAY set?)\n");
        return 1;
    }
    int event, error;
    if (!XFixesQueryExtension(display, &event, &error)) {
        fprintf(stderr, "cursor_shown: the X server has no XFixes extension\n");
        XCloseDisplay(display);
        return 1;
    }
    XFixesCursorImage *image = XFixesGetCursorImage(display);
    if (!image) {
        fprintf(stderr, "cursor_shown: the X server gave no cursor image\n");
        XCloseDisplay(display);
        return 1;
    }
    long opaque = 0;
    for (long i = 0; i < (long)image->width * image->height; ++i)
        opaque += (image->pixels[i] >> 24) != 0; /* ARGB: alpha in the top byte */
    printf("%ld\n", opaque);
    XFree(image);
    XCloseDisplay(display);
    return 0;
}
