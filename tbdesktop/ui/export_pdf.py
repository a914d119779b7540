"""PDF files and printing of an exported note with Qt's own writer: the document laid out by QTextDocument and
painted page by page onto a QPdfWriter or a QPrinter, with "Page n of m" in each footer and a light diagonal
DRAFT across every page of a draft.

Safe to call off the GUI thread (QPainter on a QPdfWriter or QPrinter is); the CLI calls ``ensure_gui`` first,
as Qt's fonts need a QGuiApplication."""

from __future__ import annotations

import errno
import html
import os
import sys
from pathlib import Path

from PySide6.QtCore import QLocale, QMarginsF, QRectF, QSizeF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QGuiApplication,
    QPagedPaintDevice,
    QPageLayout,
    QPageSize,
    QPainter,
    QPainterPath,
    QPdfWriter,
    QTextDocument,
)
from PySide6.QtPrintSupport import QPrinter

from tbdesktop.services.export.document import DRAFT_MARK, ExportDocument
from tbdesktop.services.export.text import TRANSCRIPT_HEADING

RESOLUTION = 300  # dots per inch of the PDF's layout
MARGIN_MM = 18.0
BODY_PT = 10.0
FOOTER_PT = 8.0
WATERMARK_PT = 110.0
MUTED = "#5b6b73"
TEXT = "#1f2a30"
WATERMARK = QColor(164, 38, 44, 36)  # a light red, mostly see-through

_app: QGuiApplication | None = None  # the CLI's application, kept for the life of the process


def ensure_gui() -> None:
    """A QGuiApplication for Qt's fonts, where the process has none yet (the CLI). On Linux it is offscreen: the
    CLI shows no window, and a display that is set but unreachable (a remote shell) would end the process."""
    global _app
    if QGuiApplication.instance() is not None:
        return
    if sys.platform.startswith("linux"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    _app = QGuiApplication(["tbdesktop"])


def page_size() -> QPageSize:
    """Letter where it is the custom (the United States, Canada, Mexico, the Philippines), else A4."""
    letter = {
        QLocale.Country.UnitedStates,
        QLocale.Country.Canada,
        QLocale.Country.Mexico,
        QLocale.Country.Philippines,
    }
    return QPageSize(QPageSize.PageSizeId.Letter if QLocale().territory() in letter else QPageSize.PageSizeId.A4)


def _text(value: str) -> str:
    return html.escape(value).replace("\n", "<br>")


def document_html(doc: ExportDocument) -> str:
    """The note as the HTML subset QTextDocument lays out; every piece of text escaped."""
    out = [f"<h1 style='font-size:16pt; margin-bottom:6px;'>{_text(doc.title)}</h1>"]
    rows = "".join(
        f"<tr><td style='padding:1px 12px 1px 0; color:{MUTED};'><b>{_text(f.label)}</b></td>"
        f"<td style='padding:1px 0;'>{_text(f.value)}</td></tr>"
        for f in doc.fields
    )
    out.append(f"<table cellspacing='0' cellpadding='0'>{rows}</table>")
    for line in doc.notices:
        out.append(f"<p style='color:{MUTED};'><i>⚠ {_text(line)}</i></p>")
    for section in doc.sections:
        out.append(f"<h3 style='margin-top:14px; margin-bottom:3px;'>{_text(section.title)}</h3>")
        out.append(f"<p>{_text(section.text.strip())}</p>")
    if doc.signature:
        out.append(f"<p style='margin-top:16px;'><b>{_text(doc.signature)}</b></p>")
    for addendum in doc.addenda:
        out.append(f"<h4 style='margin-top:12px; margin-bottom:3px;'>{_text(addendum.heading)}</h4>")
        out.append(f"<p>{_text(addendum.text.strip())}</p>")
    if doc.transcript is not None:
        out.append(f"<h2 style='page-break-before:always; font-size:13pt;'>{_text(TRANSCRIPT_HEADING)}</h2>")
        if not doc.transcript:
            out.append("<p>(no lines)</p>")
        for row in doc.transcript:
            out.append(
                f"<p style='margin-top:0; margin-bottom:3px;'><span style='color:{MUTED};'>[{_text(row.time)}]</span>"
                f" <b>{_text(row.label)}:</b> {_text(row.text)}</p>"
            )
    return f"<div style='color:{TEXT};'>{''.join(out)}</div>"


def _font(points: float, *, bold: bool = False) -> QFont:
    """The app's font at ``points``, without ligatures: "ff" copied out of the PDF stays two letters."""
    font = QFont(QGuiApplication.font())
    font.setPointSizeF(points)
    font.setBold(bold)
    for tag in ("liga", "clig"):
        font.setFeature(QFont.Tag(tag), 0)
    return font


def paint_document(doc: ExportDocument, device: QPagedPaintDevice, resolution: int) -> int:
    """Lay ``doc`` out on the pages of ``device`` (a QPdfWriter or QPrinter) and paint them; returns the page
    count. Raises OSError when the device cannot be opened (an unwritable file)."""
    painter = QPainter()
    if not painter.begin(device):
        raise OSError(errno.EIO, "the file could not be opened for writing")
    try:
        area = device.pageLayout().paintRectPixels(resolution)
        width, height = float(area.width()), float(area.height())
        footer_height = FOOTER_PT / 72.0 * resolution * 2.4
        body_height = height - footer_height
        text = QTextDocument()
        text.documentLayout().setPaintDevice(device)
        text.setDefaultFont(_font(BODY_PT))
        text.setDocumentMargin(0)
        text.setPageSize(QSizeF(width, body_height))
        text.setHtml(document_html(doc))
        pages = max(1, text.pageCount())
        for index in range(pages):
            if index:
                device.newPage()
            if doc.draft:
                _watermark(painter, width, height, resolution)
            painter.save()
            painter.translate(0, -index * body_height)
            text.drawContents(painter, QRectF(0, index * body_height, width, body_height))
            painter.restore()
            _footer(painter, doc, index + 1, pages, QRectF(0, body_height, width, footer_height))
        return pages
    finally:
        painter.end()


def _watermark(painter: QPainter, width: float, height: float, resolution: int) -> None:
    """DRAFT across the page, drawn as a shape rather than text: text copied out of the PDF stays the note's."""
    painter.save()
    font = _font(WATERMARK_PT, bold=True)
    font.setPixelSize(round(WATERMARK_PT / 72.0 * resolution))  # a path is laid out in pixels, not the device's
    path = QPainterPath()
    path.addText(0, 0, font, DRAFT_MARK)
    box = path.boundingRect()
    painter.translate(width / 2, height / 2)
    painter.rotate(-45)
    painter.translate(-box.center())
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(WATERMARK)
    painter.drawPath(path)
    painter.restore()


def _footer(painter: QPainter, doc: ExportDocument, page: int, pages: int, rect: QRectF) -> None:
    painter.save()
    painter.setFont(_font(FOOTER_PT))
    painter.setPen(QColor(MUTED))
    bottom = Qt.AlignmentFlag.AlignBottom
    painter.drawText(rect, int(Qt.AlignmentFlag.AlignLeft | bottom), doc.footer)
    painter.drawText(rect, int(Qt.AlignmentFlag.AlignRight | bottom), f"Page {page} of {pages}")
    painter.restore()


def render_pdf(doc: ExportDocument, path: Path) -> None:
    """Write ``doc`` as a PDF file at ``path`` (the export service's renderer for "pdf")."""
    writer = QPdfWriter(str(path))
    writer.setResolution(RESOLUTION)
    writer.setTitle(doc.title)
    writer.setCreator("TherapyBridge")
    writer.setPageLayout(
        QPageLayout(
            page_size(),
            QPageLayout.Orientation.Portrait,
            QMarginsF(MARGIN_MM, MARGIN_MM, MARGIN_MM, MARGIN_MM),
            QPageLayout.Unit.Millimeter,
        )
    )
    paint_document(doc, writer, writer.resolution())
    if not path.exists():
        raise OSError(errno.EIO, "the PDF was not written")


def print_document(doc: ExportDocument, printer: QPrinter) -> int:
    """Print ``doc`` on ``printer`` as set up in the print dialog; returns the pages printed."""
    return paint_document(doc, printer, printer.resolution())
