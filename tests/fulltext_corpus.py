"""Three invented papers for the full-text tests, laid out by pdfgen.py, each with facts planted on known pages,
and the questions a reader would ask of them. Filler paragraphs are drawn from each topic's sentences by a seeded
generator, so every run writes the same PDFs."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from pdfgen import Block, Layout, scan_of

HEAD = "Journal of Invented Field Studies 12 (2025) 101-130"


@dataclass
class Made:
    """A paper as written: its PDF, and the page where each planted sentence starts."""

    title: str
    pdf: bytes
    planted: dict[str, int] = field(default_factory=dict)
    references: list[str] = field(default_factory=list)
    caption_page: int = 0


FILLER = {
    "melt": ["Snow water equivalent was measured at {n} stakes along the transect each spring.",
             "Discharge rose steadily through the afternoon and fell again after sunset on most days.",
             "The catchment covers {n} square kilometres, of which a fifth is glaciated.",
             "Air temperature at the upper station lagged the valley station by about two hours.",
             "Rain on snow events were rare before June and common in the late summer.",
             "We corrected the pressure transducer records for barometric drift every week.",
             "Degree-day factors varied between {n} and {m} millimetres per degree and day.",
             "The hydrograph separation used electrical conductivity as a tracer of groundwater.",
             "Winters with a deep snowpack delayed the onset of runoff at every gauge.",
             "Field crews visited the gauges every {n} days to clear debris from the weirs."],
    "terns": ["Colonies on the outer islands were visited at dawn to limit disturbance.",
              "Chick growth was recorded every {n} days until fledging.",
              "Adults foraged mostly within {n} kilometres of the colony during incubation.",
              "Sand eels made up most of the prey delivered to the chicks.",
              "Nest density was highest on gravel ridges above the spring tide line.",
              "Predation by gulls accounted for {n} percent of egg losses in the wet years.",
              "Return rates of adults ringed as breeders exceeded {m} percent.",
              "The wintering grounds lay in the Weddell Sea for most individuals.",
              "Flight routes followed the coast of West Africa on the way south.",
              "Breeding success was lower in seasons with strong easterly winds."],
    "lake": ["Cores were taken with a gravity corer from the deepest part of the basin.",
             "Each core was split, photographed and logged for magnetic susceptibility.",
             "Pollen counts showed a steady rise of cereals after {n} AD.",
             "Varve counting agreed with the radiocarbon ages within {n} years.",
             "Diatom assemblages shifted towards planktonic species in the upper {m} centimetres.",
             "Organic carbon content peaked during the warm period of the tenth century.",
             "The lake is fed by two streams and drains through a narrow outlet to the east.",
             "Grain size analysis revealed flood layers every few decades.",
             "Chironomid head capsules were picked from {n} samples under the microscope.",
             "The age model combines varves, radiocarbon dates and the lead isotope profile."],
}

PAPERS = {
    "melt": dict(
        title="Earlier Snowmelt Runoff in an Alpine Catchment over Three Decades",
        abstract="We analyse thirty years of discharge and snow records from an alpine catchment and show that the "
                 "spring runoff now begins weeks earlier than it did in the nineteen nineties.",
        plant={"phrase": "In 2019 the first meltwater pulse reached the Talbach gauge eleven days earlier than in "
                         "1998, although the winter snowpack was of similar depth.",
               "hyphen": "Satellite images gave a compact repre|sentation of snow cover for every week of the "
                         "melt season.",
               "question": "The automatic weather station on the ridge was destroyed by an avalanche in February "
                           "2017 and rebuilt with a stronger mast the following summer."},
        caption="Figure 1: Daily discharge at the Talbach gauge in 2019 compared with 1998.",
        note="1 The discharge records are available from the regional water authority.",
        refs=["[1] A. Keller and R. Moser. Snow cover trends in the Alps. Journal of Hydrology, 2010.",
              "[2] L. Brunner. Degree-day models of alpine snowmelt. Water Resources Research, 2014.",
              "[3] M. Huber, T. Frei and S. Graf. Groundwater contributions to alpine streams. Hydrological "
              "Processes, 2018."]),
    "terns": dict(
        title="Migration Routes of Arctic Terns Breeding in the Baltic",
        abstract="Geolocators fitted to breeding Arctic terns reveal a loop migration along the African coast to "
                 "the Antarctic pack ice and back through the central Atlantic.",
        plant={"phrase": "Each tern carried a light level geolocator weighing 0.65 grams on a plastic leg ring.",
               "question": "Two birds stopped for three weeks off the coast of Mauritania, where upwelling "
                           "waters held dense shoals of small fish.",
               "topic": "The longest journey recorded in this study covered ninety-six thousand kilometres in "
                        "one year."},
        caption="Figure 2: Tracks of the tagged terns between August and May.",
        note="2 Birds were handled under licence from the national ringing centre.",
        refs=["[1] C. Egevang et al. Tracking of Arctic terns reveals longest animal migration. PNAS, 2010.",
              "[2] R. Fijn et al. Arctic terns from the Netherlands migrate record distances. Ardea, 2013."]),
    "lake": dict(
        title="Two Thousand Years of Sediment from Lake Varna",
        abstract="Annually laminated sediments of Lake Varna record land use, climate and volcanic fallout "
                 "over the last two millennia.",
        plant={"phrase": "A layer of volcanic glass shards at 41 cm depth matches the chemistry of the 1783 Laki "
                         "eruption in Iceland.",
               "question": "The bottom water has had no oxygen since the lake was dammed for a mill in 1642, "
                           "which preserved the laminations."},
        caption="Table 1: Radiocarbon dates from the master core.",
        note="3 Core photographs are archived with the data.",
        refs=["[1] P. Novak. Varved lake sediments of Central Europe. Quaternary Science Reviews, 2012.",
              "[2] J. Svoboda and E. Kral. Tephra layers in Czech lakes. Journal of Paleolimnology, 2016.",
              "[3] H. Dvorak. Historical land use from pollen. The Holocene, 2019."]),
}

# What a reader asks, with the paper and the planted sentence whose page is the answer.
PHRASES = [("melt", '"first meltwater pulse reached the Talbach gauge"', "phrase"),
           ("terns", '"geolocator weighing 0.65 grams"', "phrase"),
           ("lake", '"matches the chemistry of the 1783 Laki eruption"', "phrase")]
QUESTIONS = [("melt", "which instrument on the mountain was wrecked by a snow slide", "question"),
             ("terns", "where did the birds pause on the way to feed", "question"),
             ("lake", "why is there no oxygen at the bottom of the lake", "question")]


def _filler(topic: str, rnd: random.Random, sentences: int) -> str:
    pool = FILLER[topic]
    return " ".join(rnd.choice(pool).format(n=rnd.randint(3, 90), m=rnd.randint(91, 400)) for _ in range(sentences))


def make_paper(key: str, seed: int = 7) -> Made:
    """One invented paper in two columns, about three pages, with a running head and page numbers."""
    spec = PAPERS[key]
    rnd = random.Random(f"{key}-{seed}")
    layout = Layout(columns=2, head=HEAD)
    made = Made(title=spec["title"], pdf=b"", references=[r for r in spec["refs"]])
    layout.add(Block("title", spec["title"]))
    layout.add(Block("heading", "Abstract"))
    layout.add(Block("body", spec["abstract"]))
    plants = list(spec["plant"].items())
    sections = ["1 Introduction", "2 Study Area and Methods", "3 Results", "4 Discussion"]
    for i, section in enumerate(sections):
        layout.add(Block("heading", section))
        for j in range(3):
            text = _filler(key, rnd, 9)
            if plants and (i, j) in ((1, 1), (2, 1), (2, 2), (3, 0)):
                name, sentence = plants.pop(0)
                text = _filler(key, rnd, 3) + " " + sentence + " " + _filler(key, rnd, 4)
                made.planted[name] = sentence
            layout.add(Block("body", text))
        if i == 2:
            layout.add(Block("caption", spec["caption"]))
            layout.add(Block("note", spec["note"]))
    layout.add(Block("heading", "References"))
    for ref in spec["refs"]:
        layout.add(Block("reference", ref))
    made.pdf = layout.pdf()
    made.planted = {name: layout.page_of(" ".join(sentence.replace("|", "").split()[:4]))
                    for name, sentence in made.planted.items()}
    made.caption_page = layout.page_of(spec["caption"][:20])
    return made


def thesis(pages: int, last_words: str) -> tuple[bytes, int]:
    """A long one-column document of filler, `last_words` on one of its last pages: (the PDF, that page)."""
    rnd = random.Random(pages)
    planted = last_words
    layout = Layout(columns=1, head="A thesis submitted for the degree of Doctor of Philosophy")
    topics = list(FILLER)
    while len(layout.pages) < pages:
        n = len(layout.pages)
        if n == pages - 1 and last_words:
            layout.add(Block("body", last_words))
            last_words = ""
        layout.add(Block("body", _filler(topics[n % 3], rnd, 6)))
    pdf = layout.pdf()
    return pdf, layout.page_of(" ".join(planted.split()[:4]))


def scanned(key: str) -> bytes:
    """A paper's first page as a picture, with no text layer."""
    return scan_of(make_paper(key).pdf, pages=[0])
