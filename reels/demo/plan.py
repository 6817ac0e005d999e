"""What the demo seeds, decided up front from one seed: the same arguments give the same plan.

The ranking simulator's world is the demo's world: its viewers are the demo's users, its
creators the first of them, its follows their follows, its reels the demo's clips (the reel's
category picks the clip's look and hashtags) and its log the demo's history of views, likes and
comments. Only the clips' lengths are the demo's own (5–30 s, mostly short), so the feed fills
quickly; watches keep the simulator's watch ratios.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

from reels.domain.models import Role
from reels.ranking import SimulatedLog, SimulatorConfig, simulate

COMMENT_SHARE = 0.3  # of the likes of reels watched to the end
COMMENTS = (
    "love this",
    "watched it three times",
    "the colours!",
    "how did you make this?",
    "more of these please",
    "so calming",
    "this is my new wallpaper",
    "the sound though",
    "underrated",
    "perfect loop",
)

PASSWORD = "reels-demo-password"
PORTRAIT = (720, 1280)  # the ladder's every rung (240p–720p) exists for such a source
LANDSCAPE_SHARE = 0.1
SOUND_REUSE_SHARE = 0.35  # of the longer half of the clips, which then use an earlier clip's sound
MEDIAN_SECONDS = 11.0

CREATOR_NAMES = (
    "alice carol dave erin frank grace heidi ivan judy mallory niaj olivia peggy rupert sybil trent "
    "victor walter yara zoe"
).split()
VIEWER_NAMES = (
    "bob chen dana eli fatima gabriel hana isaac jun kofi lena mateo nora omar priya quinn rosa sami "
    "tariq uma vera wen ximena yusuf zara amara bruno chloe diego esme felix gita hugo ines jonas kira "
    "luca maya nils"
).split()
REGIONS = ("IN", "US", "BR", "ID", "NG", "DE", "JP", "MX", "GB", "FR", "KE", "PH")
STAFF = (("mod", Role.MODERATOR), ("admin", Role.ADMIN))


@dataclass(frozen=True)
class Theme:
    """A simulator category as the viewer sees it: a look, a few words and its hashtags."""

    name: str
    words: tuple[str, ...]
    tags: tuple[str, ...]


THEMES = (
    Theme("bars", ("Colour bars", "Test bars", "Broadcast bars"), ("#bars", "#retro")),
    Theme("testcard", ("Test card", "Signal check", "Calibration"), ("#testcard", "#retro")),
    Theme("fractal", ("Fractal dive", "Into the set", "Infinite zoom"), ("#mandelbrot", "#math")),
    Theme("life", ("Game of life", "Colony", "Cells at work"), ("#life", "#math")),
    Theme("automaton", ("Rule tiles", "Cellular rain", "Automaton"), ("#automata", "#pixelart")),
    Theme("waves", ("Zone plate", "Moiré", "Interference"), ("#waves", "#optics")),
    Theme("gradient", ("Gradient drift", "Colour wash", "Soft light"), ("#gradient", "#aesthetic")),
    Theme("spectrum", ("Spectrum scroll", "Rainbow road", "All the hues"), ("#spectrum", "#colour")),
    Theme("sierpinski", ("Sierpinski", "Carpet", "Self-similar"), ("#fractal", "#math")),
    Theme("scroll", ("Test pattern", "Slow scroll", "Signal"), ("#pattern", "#retro")),
    Theme("spin", ("Spinning colours", "RGB spin", "Turntable"), ("#spin", "#colour")),
    Theme("box", ("Box on the move", "Bouncing block", "Minimal"), ("#minimal", "#motion")),
)
MOODS = ("at golden hour", "for a rainy day", "on repeat", "in slow motion", "after midnight", "before coffee", "")
COLOURS = ("0xff4080", "0x4080ff", "0x40ffa0", "0xffc040", "0xa040ff", "0x20c0c0", "0xff6020", "0xf0f0f0")
TONES_HZ = (220, 262, 294, 330, 392, 440, 523, 587, 659, 784)


@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    region: str
    role: Role = Role.USER


@dataclass(frozen=True)
class DemoClip:
    number: int  # the simulator's reel r{number}
    theme: str  # its simulator category, as a Theme's name
    creator: str
    caption: str
    seconds: int
    width: int
    height: int
    video: str  # an FFmpeg lavfi video source and filters
    audio: str  # an FFmpeg lavfi audio source
    sound_of: int | None  # the number of the clip whose sound this one uses, made before it

    @property
    def landscape(self) -> bool:
        return self.width > self.height


@dataclass(frozen=True)
class DemoWatch:
    """One watch of the simulated history, with the like and comment it led to."""

    viewer: str
    clip: int  # a DemoClip's number
    watched_ms: int
    completed: bool
    liked: bool
    comment: str | None
    ago_s: float  # how long before the history is stored it happened
    source: str  # the simulated feed that showed it (trending, affinity, following, fresh)
    position: int  # its place in that feed session


@dataclass(frozen=True)
class DemoPlan:
    users: tuple[DemoUser, ...]  # the simulator's viewers v0, v1, … in order, then the staff
    follows: tuple[tuple[str, str], ...]  # (follower, followed)
    clips: tuple[DemoClip, ...]  # in the order they are made: shortest first, so the feed fills fast
    history: tuple[DemoWatch, ...]  # oldest first
    creator: str  # demo credentials: someone with reels,
    viewer: str  # someone who follows creators,
    moderator: str  # and someone who works the report queue


def make_plan(reels: int = 60, users: int = 40, *, seed: int = 0, seconds: tuple[int, int] = (5, 30)) -> DemoPlan:
    if reels < 1 or users < 2:
        raise ValueError("the demo needs at least one reel and two users")
    history = simulate(SimulatorConfig(users=users, reels=reels, seed=seed))
    rng = random.Random(seed)
    creators = SimulatorConfig(users=users, reels=reels).creators
    names = _usernames(users, creators)
    people = tuple(DemoUser(name, name.title(), rng.choice(REGIONS)) for name in names) + tuple(
        DemoUser(name, name.title(), rng.choice(REGIONS), role) for name, role in STAFF
    )
    user_of = {f"v{index}": name for index, name in enumerate(names)}
    creator_of = {f"u{index}": names[index % users] for index in range(creators)}
    follows = tuple(
        dict.fromkeys(
            (user_of[viewer], creator_of[creator])
            for viewer, creator in history.follows
            if user_of[viewer] != creator_of[creator]
        )
    )
    clips = _clips(rng, history, creator_of, seconds)
    watches = _history(rng, history, user_of, {clip.number: clip for clip in clips})
    viewer = next((name for name in names[creators:] if any(f == name for f, _ in follows)), names[-1])
    return DemoPlan(people, follows, clips, watches, creator=names[0], viewer=viewer, moderator=STAFF[0][0])


def _usernames(users: int, creators: int) -> list[str]:
    """Creators first (the simulator's creator k is viewer k), from their own list, so the
    demo's credentials read the same whatever the size."""
    names: list[str] = []
    pools = {True: _numbered(CREATOR_NAMES), False: _numbered(VIEWER_NAMES)}
    for index in range(users):
        names.append(next(pools[index < creators]))
    return names


def _numbered(names: list[str]) -> Iterator[str]:
    """The names, then the names again with 2, 3, … after them: enough for any size."""
    for round_ in itertools.count(1):
        yield from (name if round_ == 1 else f"{name}{round_}" for name in names)


def _clips(
    rng: random.Random, history: SimulatedLog, creator_of: dict[str, str], seconds: tuple[int, int]
) -> tuple[DemoClip, ...]:
    shortest, longest = seconds
    lengths = [
        min(longest, max(shortest, round(rng.lognormvariate(math.log(MEDIAN_SECONDS), 0.5)))) for _ in history.items
    ]
    order = sorted(range(len(history.items)), key=lambda number: (lengths[number], number))
    donors = order[: max(1, len(order) // 4)]
    captions: set[tuple[str, str]] = set()
    clips = []
    for rank, number in enumerate(order):
        item = history.items[number]
        theme = THEMES[int((item.category or "c0").removeprefix("c")) % len(THEMES)]
        creator = creator_of[item.creator_id or "u0"]
        landscape = rng.random() < LANDSCAPE_SHARE or (rank == len(order) // 2 and len(order) >= 10)
        width, height = PORTRAIT[::-1] if landscape else PORTRAIT
        reuse = rank >= len(order) // 2 and number not in donors and rng.random() < SOUND_REUSE_SHARE
        caption = _caption(rng, theme, captions, creator)
        clips.append(
            DemoClip(
                number=number,
                theme=theme.name,
                creator=creator,
                caption=caption,
                seconds=lengths[number],
                width=width,
                height=height,
                # A turn of the colour wheel of its own: no two clips of a look are the same.
                video=f"{_video(rng, theme, width, height)},hue=h={rng.randint(0, 359)}",
                audio=_audio(rng),
                sound_of=rng.choice(donors) if reuse else None,
            )
        )
    return tuple(clips)


def _history(
    rng: random.Random, log: SimulatedLog, user_of: dict[str, str], clips: dict[int, DemoClip]
) -> tuple[DemoWatch, ...]:
    """The simulated log on the demo's clips, ending an hour before it is stored. Watch ratios
    are the simulator's, applied to the demo's own clip lengths."""
    end = max((event.timestamp for event in log.events), default=0.0) + 3600.0
    watches = []
    for event, shown in zip(log.events, log.impressions, strict=True):
        clip = clips[int(event.item_id.removeprefix("r"))]
        ratio = event.watch_ratio or 0.0  # above 1 for loops (the simulator's are under 2)
        completed = ratio >= 1.0
        comment = rng.choice(COMMENTS) if event.liked and completed and rng.random() < COMMENT_SHARE else None
        watches.append(
            DemoWatch(
                viewer=user_of[event.user_id],
                clip=clip.number,
                watched_ms=round(ratio * clip.seconds * 1000),
                completed=completed,
                liked=event.liked,
                comment=comment,
                ago_s=end - event.timestamp,
                source=shown.source,
                position=shown.position,
            )
        )
    return tuple(sorted(watches, key=lambda watch: -watch.ago_s))


def _caption(rng: random.Random, theme: Theme, taken: set[tuple[str, str]], creator: str) -> str:
    """A caption with hashtags, different from the creator's others (re-runs find reels by it)."""
    base = " ".join(part for part in (rng.choice(theme.words), rng.choice(MOODS)) if part)
    tags = " ".join(theme.tags[: rng.randint(1, len(theme.tags))])
    caption, take = f"{base} {tags}", 1
    while (creator, caption) in taken:
        take += 1
        caption = f"{base}, take {take} {tags}"
    taken.add((creator, caption))
    return caption


def _video(rng: random.Random, theme: Theme, width: int, height: int) -> str:
    """A lavfi graph of `width`×`height` at 30 fps. Costly generators (fractals, life) render
    at a quarter to a ninth of the pixels and are scaled up: a clip costs far less than its transcode."""
    size = f"{width}x{height}"
    half = f"{width // 2}x{height // 2}"
    third = f"{width // 3}x{height // 3}"
    quarter = f"{width // 4}x{height // 4}"
    # Scaled up to the clip's size with square pixels (a third of 1280 is not whole).
    up = f"scale={width}:{height},setsar=1"
    blocky = f"scale={width}:{height}:flags=neighbor,setsar=1"
    colour, other = rng.sample(COLOURS, 2)
    speed = rng.choice((4, 6, 8, 12))
    match theme.name:
        case "bars":
            return f"smptehdbars=s={size}:r=30,hue=H=2*PI*t/{speed}"
        case "testcard":
            return f"testsrc2=s={size}:r=30,hue=s={rng.choice((0.6, 1.0, 1.4))}"
        case "fractal":
            return f"mandelbrot=s={third}:r=30:start_scale={rng.choice((2, 3, 4))}:end_scale=0.05:maxiter=150,{up}"
        case "life":
            return (
                f"life=s={quarter}:r=30:mold={rng.randint(5, 25)}:ratio={rng.choice((0.2, 0.4, 0.6))}"
                f":life_color={colour}:death_color=0x202040:seed={rng.randint(0, 9999)},{blocky}"
            )
        case "automaton":
            rule = rng.choice((30, 90, 110, 150, 18))
            return f"cellauto=s={half}:r=30:rule={rule}:random_seed={rng.randint(0, 9999)},{blocky}"
        case "waves":
            return (
                f"zoneplate=s={size}:r=30:kx2={rng.randint(8, 40)}:ky2={rng.randint(8, 40)}:kt2={speed}"
                f",colorize=hue={rng.randint(0, 359)}:saturation=0.7"
            )
        case "gradient":
            kind = rng.choice(("linear", "radial", "circular", "spiral"))
            return f"gradients=s={quarter}:r=30:c0={colour}:c1={other}:speed=0.02:type={kind},{up}"
        case "spectrum":
            return f"colorspectrum=s={size}:r=30,scroll=h={rng.choice((0.002, 0.004, 0.008))}"
        case "sierpinski":
            kind = rng.choice(("carpet", "triangle"))
            return f"sierpinski=s={half}:r=30:type={kind}:jump={rng.randint(50, 200)},{up}"
        case "scroll":
            return f"yuvtestsrc=s={size}:r=30,scroll=v={rng.choice((0.004, 0.01))},hue=H=2*PI*t/{speed}"
        case "spin":
            return f"rgbtestsrc=s={half}:r=30,rotate=a=t/{speed // 2}:fillcolor={colour},{up}"
        case _:
            box = min(width, height) // 3
            return (
                f"color=c={colour}:s={size}:r=30,drawbox=x='(iw-{box})*abs(sin(t/{speed / 4:g}))'"
                f":y='(ih-{box})*abs(cos(t/{speed / 3:g}))':w={box}:h={box}:color={other}:t=fill"
            )


def _audio(rng: random.Random) -> str:
    tone = rng.choice(TONES_HZ)
    match rng.choice(("tone", "beeps", "chord", "rain")):
        case "tone":
            return f"sine=f={tone}:r=48000"
        case "beeps":
            return f"sine=f={tone}:beep_factor={rng.choice((2, 4))}:r=48000"
        case "chord":
            return f"aevalsrc=0.2*sin(2*PI*{tone}*t)+0.15*sin(2*PI*{tone * 5 // 4}*t)+0.1*sin(2*PI*{tone * 3 // 2}*t):s=48000"
        case _:
            return "anoisesrc=color=pink:amplitude=0.08:r=48000"
