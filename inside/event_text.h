// What the Inside view says about each trace event, as words a class can
// read: message types and flags by their protocol names, NAL unit types by
// their H.264 names, and the 24-byte header's fields with the colour each
// one wears in the hex column, the legend and the detail pane.
#pragma once

#include "io_trace.h"

#include <QColor>
#include <QStringList>
#include <array>

namespace h264link::inside {

// One field of the wire header (docs/PROTOCOL.md, "Header").
struct HeaderField {
    const char *name;
    int offset;
    int size;
    QColor colour;
};
const std::array<HeaderField, 7> &headerFields();
// The field byte `offset` of a message belongs to; nullptr in the payload.
const HeaderField *headerFieldAt(int offset);
QColor payloadColour();

// "AU_START|AU_END|KEYFRAME", by the message type's own flag names; "-" for none.
QString flagNames(quint8 type, quint16 flags);
QString messageTypeName(quint8 type); // "MEDIA", or "type 0x2A" for an unknown one
// "48 32 4C 4B 03 …": the bytes, spaced.
QString hexBytes(const QByteArray &bytes);

// The cells of each timeline's row, in column order (the column titles below).
QStringList ioCallColumns();
QStringList ioCallCells(const trace::IoCall &call);
QStringList messageColumns();
constexpr int kMessageHexColumn = 6; // the header-coloured bytes
QStringList messageCells(const trace::WireMessage &message);
QStringList nalColumns();
QStringList nalCells(const trace::AccessUnitNals &au);

// The whole message as the view keeps it: every header field decoded, the
// payload's typed prefix (MEDIA's and AUDIO's pts …), a hex dump. HTML.
QString messageDetailHtml(const trace::WireMessage &message);

} // namespace h264link::inside
