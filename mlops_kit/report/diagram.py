"""The three tiers as an inline SVG: one band per tier, one box per stack with its main resources.

Drawn from ``collect.StackView`` only, so the picture is what this config builds. Plain SVG 1.1
elements with fixed coordinates (no fonts or scripts fetched, no foreignObject), so any browser
shows it offline and a screenshot is stable from run to run.
"""

from __future__ import annotations

from html import escape
from itertools import pairwise

from mlops_kit.report.collect import TIER_NAMES, TIER_OWNERS, StackView

WIDTH = 980
LABEL_WIDTH = 190
GAP = 14
LINE = 17
MAX_LINES = 12
# (fill, stroke) per tier; 0 is a stack the kit does not name (an extra stack of a fork).
COLOURS = {3: ("#fef3c7", "#b45309"), 2: ("#dcfce7", "#15803d"), 1: ("#dbeafe", "#1d4ed8"), 0: ("#f3f4f6", "#4b5563")}


def _fit(text: str, width: float, char_width: float = 6.6) -> str:
    room = max(4, int(width / char_width))
    return text if len(text) <= room else text[: room - 1] + "…"


def _box_lines(stack: StackView) -> list[str]:
    lines = [f"{count} {label}" for label, count in stack.main]
    if len(lines) > MAX_LINES:
        hidden = lines[MAX_LINES - 1 :]
        lines = [*lines[: MAX_LINES - 1], f"+ {len(hidden)} more kinds"]
    if stack.others:
        lines.append(f"+ {stack.others} other resources")
    return lines


def render_svg(stacks: list[StackView]) -> str:
    """Tier 3 on top, tier 1 at the bottom (the README's order); arrows say how tiers connect."""
    tiers = [tier for tier in (3, 2, 1, 0) if tier or any(s.tier == 0 for s in stacks)]
    parts: list[str] = []
    y = 10
    band_tops: list[tuple[int, int, int]] = []  # (tier, top, bottom)
    for tier in tiers:
        members = [s for s in stacks if s.tier == tier]
        per_row = max(1, min(len(members), 4))
        box_width = (WIDTH - LABEL_WIDTH - 20 - GAP * (per_row - 1)) / per_row
        rows = [members[i : i + per_row] for i in range(0, len(members), per_row)] or [[]]
        heights = [max((36 + LINE * len(_box_lines(s)) for s in row), default=44) for row in rows]
        band_height = sum(heights) + GAP * (len(rows) + 1)
        fill, stroke = COLOURS[tier]
        parts.append(
            f'<rect class="tier tier-{tier}" x="4" y="{y}" width="{WIDTH - 8}" height="{band_height}" rx="10" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>'
        )
        title, subtitle = (f"Tier {tier}", TIER_NAMES[tier]) if tier else ("Other", "stacks")
        parts.append(f'<text x="18" y="{y + 26}" font-size="17" font-weight="700" fill="{stroke}">{escape(title)}</text>')
        parts.append(f'<text x="18" y="{y + 45}" font-size="14" font-weight="700" fill="{stroke}">{escape(subtitle)}</text>')
        for i, line in enumerate(_wrap(TIER_OWNERS[tier], 26) if tier else []):
            parts.append(f'<text x="18" y="{y + 65 + i * 15}" font-size="12" fill="#374151">{escape(line)}</text>')
        row_y = y + GAP
        for row, height in zip(rows, heights, strict=True):
            for column, stack in enumerate(row):
                x = LABEL_WIDTH + column * (box_width + GAP)
                parts.append(
                    f'<g class="stack" data-stack="{escape(stack.name)}">'
                    f'<rect x="{x:.0f}" y="{row_y}" width="{box_width:.0f}" height="{height}" rx="6" fill="#ffffff" '
                    f'stroke="{stroke}" stroke-width="1.2"/>'
                    f'<text x="{x + 10:.0f}" y="{row_y + 21}" font-size="14" font-weight="700" fill="#111827">'
                    f"{escape(_fit(f'{stack.name} ({stack.total})', box_width - 20, 8.2))}</text>"
                )
                for i, line in enumerate(_box_lines(stack)):
                    parts.append(
                        f'<text x="{x + 10:.0f}" y="{row_y + 40 + i * LINE}" font-size="12" fill="#374151">'
                        f"{escape(_fit(line, box_width - 20))}</text>"
                    )
                parts.append("</g>")
            if not row:
                parts.append(f'<text x="{LABEL_WIDTH}" y="{row_y + 26}" font-size="13" fill="#6b7280">none in this config</text>')
            row_y += height + GAP
        band_tops.append((tier, y, y + band_height))
        y += band_height + 34
    for (upper, _, bottom), (lower, top, _) in pairwise(band_tops):
        if upper and lower:
            mid = WIDTH // 2
            parts.append(
                f'<line x1="{mid}" y1="{bottom + 2}" x2="{mid}" y2="{top - 4}" stroke="#6b7280" stroke-width="2" marker-end="url(#arrow)"/>'
                f'<text x="{mid + 10}" y="{bottom + 21}" font-size="12" fill="#4b5563">reads tier {lower} through SSM parameters</text>'
            )
    height = y - 24
    defs = (
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto">'
        '<path d="M0,0 L10,5 L0,10 z" fill="#6b7280"/></marker></defs>'
    )
    return (
        f'<svg id="tier-diagram" role="img" aria-label="The three tiers and the stacks this config builds" '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" font-family="sans-serif">'
        + defs + "".join(parts) + "</svg>"
    )


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines
