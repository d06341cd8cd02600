"""Small hand-written SVG plots for the bench scripts (no matplotlib needed).

A figure is a list of SVG element strings: start() opens it, panels are
drawn side by side with Panel (linear or log10 axes), finish() writes it.
"""
import math


def start(width, height):
    return ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" '
            'font-size="11">' % (width, height), '<rect width="100%" height="100%" fill="white"/>']


def finish(parts, path):
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts) + "\n")


class Panel:
    """One plot of W x H pixels at x offset ox, margin M, data range [x0, x1] x [y0, y1]
    (logx: x values are plotted at their log10)."""

    def __init__(self, parts, ox, W, H, M, x0, x1, y0, y1, logx=False):
        self.parts, self.ox, self.W, self.H, self.M = parts, ox, W, H, M
        self.x0, self.x1, self.y0, self.y1, self.logx = x0, x1, y0, y1, logx

    def sx(self, v):
        if self.logx:
            v, lo, hi = math.log10(v), math.log10(self.x0), math.log10(self.x1)
        else:
            lo, hi = self.x0, self.x1
        return self.ox + self.M + (v - lo) / (hi - lo) * (self.W - 2 * self.M)

    def sy(self, v):
        return 10 + (1 - (v - self.y0) / (self.y1 - self.y0)) * (self.H - self.M)

    def title(self, text):
        self.parts.append('<text x="%d" y="%d" font-size="13" font-weight="bold">%s</text>'
                          % (self.ox + self.M, 22, text))

    def frame(self):
        p, sx, sy = self.parts, self.sx, self.sy
        p.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>'
                 % (sx(self.x0), sy(self.y0), sx(self.x1), sy(self.y0)))
        p.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>'
                 % (sx(self.x0), sy(self.y0), sx(self.x0), sy(self.y1)))

    def xticks(self, values, fmt):
        for b in values:
            self.parts.append('<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>'
                              % (self.sx(b), self.sy(self.y0) + 14, fmt(b)))

    def ygrid(self, values, fmt):
        for a in values:
            self.parts.append('<text x="%.1f" y="%.1f" text-anchor="end">%s</text>'
                              % (self.sx(self.x0) - 4, self.sy(a) + 4, fmt(a)))
            self.parts.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>'
                              % (self.sx(self.x0), self.sy(a), self.sx(self.x1), self.sy(a)))

    def hline(self, y, label):
        """a dashed reference line at y, labelled at its right end"""
        self.parts.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black" stroke-dasharray="4 3"/>'
                          % (self.sx(self.x0), self.sy(y), self.sx(self.x1), self.sy(y)))
        self.parts.append('<text x="%.1f" y="%.1f" text-anchor="end">%s</text>' % (self.sx(self.x1), self.sy(y) - 3, label))

    def labels(self, xlabel, ylabel):
        ym = self.sy((self.y0 + self.y1) / 2)
        self.parts.append('<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>'
                          % (self.ox + self.W / 2, self.sy(self.y0) + 30, xlabel))
        self.parts.append('<text x="%.1f" y="%.1f" text-anchor="middle" transform="rotate(-90 %.1f %.1f)">%s</text>'
                          % (self.ox + 12, ym, self.ox + 12, ym, ylabel))

    def polyline(self, pts, colour):
        line = " ".join("%.1f,%.1f" % (self.sx(x), self.sy(y)) for x, y in sorted(pts))
        self.parts.append('<polyline points="%s" fill="none" stroke="%s" stroke-width="1.5"/>' % (line, colour))

    def dot(self, x, y, colour, hollow=False):
        if hollow:
            self.parts.append('<circle cx="%.1f" cy="%.1f" r="6" fill="none" stroke="%s" stroke-width="1.5"/>'
                              % (self.sx(x), self.sy(y), colour))
        else:
            self.parts.append('<circle cx="%.1f" cy="%.1f" r="4" fill="%s" fill-opacity="0.85"/>'
                              % (self.sx(x), self.sy(y), colour))

    def text(self, x, y, s, dx=6, dy=-5):
        self.parts.append('<text x="%.1f" y="%.1f" font-size="9">%s</text>' % (self.sx(x) + dx, self.sy(y) + dy, s))

    def legend_entry(self, i, name, colour, right=110, up=60):
        """row i of a key in the lower right corner"""
        self.parts.append('<circle cx="%.1f" cy="%.1f" r="4" fill="%s"/><text x="%.1f" y="%.1f">%s</text>' % (
            self.sx(self.x1) - right, self.sy(self.y0) - up + 14 * i, colour,
            self.sx(self.x1) - right + 8, self.sy(self.y0) - up + 4 + 14 * i, name))
