"""Text for a model under a character budget: lines compete by priority, print in section order.

Digests of sessions and of a workspace are read by models with small context budgets. Rather than cut
the text at the budget (which keeps whatever came first), every line is offered with a priority; the
most important lines are taken first until the budget is spent (the most important are clipped rather
than dropped when they do not fit whole), and the chosen lines are then printed in a fixed section
order under their section titles. The result never exceeds the budget.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from letta_ls.subagents.text import clip

CLIP_PRIORITY = 2  # lines this important are clipped to fit rather than dropped
MIN_CLIPPED = 40


class BudgetedText:
    def __init__(self, sections: Sequence[str], titles: Mapping[str, str]) -> None:
        self._sections = tuple(sections)
        self._titles = dict(titles)
        self._items: list[tuple[int, int, str, str]] = []

    def add(self, section: str, line: str, priority: int) -> None:
        """Offer a line; lower ``priority`` is more important (the first ``head`` line is always kept)."""
        if section not in self._sections:
            raise ValueError(f"unknown section {section!r}")
        self._items.append((priority, len(self._items), section, line))

    def render(self, limit: int) -> str:
        chosen: list[tuple[int, str, str]] = []
        used = 0
        opened: set[str] = set()
        first_section = self._sections[0]
        for priority, order, section, line in sorted(self._items):
            title = self._titles.get(section)
            overhead = len(title) + 1 if title and section not in opened else 0
            cost = len(line) + 1 + overhead
            if used + cost > limit:
                room = limit - used - overhead - 1
                always = section == first_section and not chosen
                if not always and (priority > CLIP_PRIORITY or room < MIN_CLIPPED):
                    continue
                line = clip(line, max(room, 1))
                cost = len(line) + 1 + overhead
            used += cost
            opened.add(section)
            chosen.append((order, section, line))
        lines: list[str] = []
        for section in self._sections:
            mine = [line for _order, s, line in sorted(chosen) if s == section]
            if mine and self._titles.get(section):
                lines.append(self._titles[section])
            lines += mine
        return "\n".join(lines)[:limit]
