#include "event_text.h"

#include "ffmpeg_raii.h"
#include "protocol.h"

#include <QLocale>
#include <QtEndian>

extern "C" {
#include <libavformat/avio.h>
#include <libavutil/error.h>
}

namespace h264link::inside {
namespace {

QString seconds(qint64 us)
{
    return QLocale().toString(double(us) / 1e6, 'f', 3) + QStringLiteral(" s");
}

QString milliseconds(qint64 us)
{
    return QLocale().toString(double(us) / 1000.0, 'f', 1) + QStringLiteral(" ms");
}

// The constant a reader finds in FFmpeg's headers, where there is one.
QString resultText(qint64 result)
{
    if (result >= 0)
        return QLocale().toString(result);
    switch (int(result)) {
    case AVERROR_EOF: return QStringLiteral("AVERROR_EOF");
    case AVERROR_EXIT: return QStringLiteral("AVERROR_EXIT");
    case AVERROR(EIO): return QStringLiteral("AVERROR(EIO)");
    case AVERROR(ESPIPE): return QStringLiteral("AVERROR(ESPIPE)");
    case AVERROR(EAGAIN): return QStringLiteral("AVERROR(EAGAIN)");
    default: return averrorText(int(result));
    }
}

QString joinNames(const QStringList &names)
{
    return names.isEmpty() ? QStringLiteral("-") : names.join(QLatin1Char('|'));
}

QString direction(bool sent)
{
    return sent ? QStringLiteral("sent →") : QStringLiteral("→ recv");
}

} // namespace

const std::array<HeaderField, 7> &headerFields()
{
    // Light colours under black text: legible on a projector, told apart without reading.
    static const std::array<HeaderField, 7> fields{{
        {"magic", 0, 4, QColor(0xff, 0xd5, 0x4f)},
        {"version", 4, 1, QColor(0x81, 0xd4, 0xfa)},
        {"type", 5, 1, QColor(0xa5, 0xd6, 0xa7)},
        {"flags", 6, 2, QColor(0xf4, 0x8f, 0xb1)},
        {"sequence", 8, 4, QColor(0xce, 0x93, 0xd8)},
        {"timestamp", 12, 8, QColor(0xff, 0xab, 0x91)},
        {"payload length", 20, 4, QColor(0x80, 0xcb, 0xc4)},
    }};
    return fields;
}

const HeaderField *headerFieldAt(int offset)
{
    for (const HeaderField &f : headerFields()) {
        if (offset >= f.offset && offset < f.offset + f.size)
            return &f;
    }
    return nullptr;
}

QColor payloadColour()
{
    return QColor(0xe0, 0xe0, 0xe0);
}

QString messageTypeName(quint8 type)
{
    return proto::isKnownType(type) ? QString::fromLatin1(proto::typeName(proto::MessageType(type)))
                                    : QStringLiteral("type 0x%1").arg(type, 2, 16, QLatin1Char('0'));
}

QString flagNames(quint8 type, quint16 flags)
{
    QStringList names;
    quint16 known = 0;
    auto name = [&](quint16 bit, const char *text) {
        known |= bit;
        if (flags & bit)
            names << QLatin1String(text);
    };
    if (type == quint8(proto::MessageType::Media)) {
        // In the order a reader follows an access unit: where it starts and ends, then what it is.
        name(proto::AccessUnitStart, "AU_START");
        name(proto::AccessUnitEnd, "AU_END");
        name(proto::Keyframe, "KEYFRAME");
        name(proto::ParameterSets, "PARAMETER_SETS");
        name(proto::DecodeOnly, "DECODE_ONLY");
    } else if (type == quint8(proto::MessageType::Audio)) {
        // docs/PROTOCOL.md, "AUDIO (v3)"
        name(0x0001, "DISCONTINUITY");
        name(0x0002, "DECODE_ONLY");
    }
    if (flags & ~known)
        names << QStringLiteral("0x%1").arg(flags & ~known, 4, 16, QLatin1Char('0'));
    return joinNames(names);
}


QString hexBytes(const QByteArray &bytes)
{
    return QString::fromLatin1(bytes.toHex(' ').toUpper());
}

QStringList ioCallColumns()
{
    return {QObject::tr("time"), QObject::tr("context"), QObject::tr("call"), QObject::tr("asked"),
            QObject::tr("returned"), QObject::tr("blocked"), QObject::tr("libavformat caller"), QObject::tr("phase")};
}

QStringList ioCallCells(const trace::IoCall &c)
{
    const QLocale locale;
    const QString asked = c.call == trace::Call::Seek
        ? QStringLiteral("offset %1 %2").arg(locale.toString(c.offset), trace::whenceName(c.size))
        : locale.toString(c.size);
    const QString caller = c.caller && *c.caller ? QString::fromLatin1(c.caller) : QObject::tr("(none)");
    return {seconds(c.timeUs), QString::fromLatin1(trace::contextName(c.context)),
            QString::fromLatin1(trace::callName(c.call)), asked, resultText(c.result),
            c.call == trace::Call::Seek ? QString() : milliseconds(c.blockedUs), caller,
            c.probing ? QStringLiteral("[probe]") : QObject::tr("steady")};
}

QStringList messageColumns()
{
    return {QObject::tr("time"), QObject::tr("direction"), QObject::tr("type"), QObject::tr("seq"),
            QObject::tr("flags"), QObject::tr("length"), QObject::tr("first bytes (header coloured by field)")};
}

QStringList messageCells(const trace::WireMessage &m)
{
    const QLocale locale;
    return {seconds(m.timeUs), direction(m.sent), messageTypeName(m.type), locale.toString(m.seq),
            flagNames(m.type, m.flags), locale.toString(m.length), hexBytes(m.head)};
}

QStringList nalColumns()
{
    return {QObject::tr("time"), QObject::tr("direction"), QObject::tr("pts"),
            QObject::tr("NAL units: type size (start code bytes)")};
}

QStringList nalCells(const trace::AccessUnitNals &au)
{
    const QLocale locale;
    QStringList units;
    for (const trace::AccessUnitNals::Nal &n : au.nals)
        units << QStringLiteral("%1 %2 B (%3)").arg(trace::nalTypeName(n.type), locale.toString(n.size)).arg(n.startCodeLength);
    const QString pts = au.ptsUs == proto::kNoPts ? QObject::tr("none") : seconds(au.ptsUs);
    return {seconds(au.timeUs), direction(au.sent), pts, units.join(QStringLiteral("  ·  "))};
}

QString messageDetailHtml(const trace::WireMessage &m)
{
    const QLocale locale;
    const QByteArray &b = m.whole.isEmpty() ? m.head : m.whole;
    QString html = QStringLiteral("<h3>%1 %2, sequence %3</h3><table cellpadding=3>")
                       .arg(messageTypeName(m.type).toHtmlEscaped(), direction(m.sent).toHtmlEscaped())
                       .arg(m.seq);
    auto row = [&](const HeaderField &f, const QString &value) {
        html += QStringLiteral("<tr><td style='background:%1;color:black'>&nbsp;%2&nbsp;</td>"
                               "<td>bytes %3–%4</td><td><tt>%5</tt></td><td>%6</td></tr>")
                    .arg(f.colour.name(), QLatin1String(f.name))
                    .arg(f.offset)
                    .arg(f.offset + f.size - 1)
                    .arg(hexBytes(b.mid(f.offset, f.size)), value.toHtmlEscaped());
    };
    if (b.size() >= proto::kHeaderSize) {
        const proto::Header h = proto::readHeader(b.constData());
        const auto &f = headerFields();
        row(f[0], QStringLiteral("0x%1 \"%2\"").arg(h.magic, 8, 16, QLatin1Char('0')).arg(QString::fromLatin1(b.left(4))));
        row(f[1], QString::number(h.version));
        row(f[2], QStringLiteral("0x%1 %2").arg(h.type, 2, 16, QLatin1Char('0')).arg(messageTypeName(h.type)));
        row(f[3], QStringLiteral("0x%1 %2").arg(h.flags, 4, 16, QLatin1Char('0')).arg(flagNames(h.type, h.flags)));
        row(f[4], locale.toString(h.sequence));
        row(f[5], locale.toString(h.timestampUs) + QStringLiteral(" µs (the sender's clock)"));
        row(f[6], locale.toString(h.payloadLength) + QStringLiteral(" bytes"));
    }
    html += QStringLiteral("</table>");
    // The typed prefix of the payloads a class looks at most.
    const QByteArray payload = b.mid(proto::kHeaderSize);
    const bool timed = m.type == quint8(proto::MessageType::Media) || m.type == quint8(proto::MessageType::Audio);
    if (timed && payload.size() >= 8) {
        const qint64 pts = qFromBigEndian<qint64>(payload.constData());
        html += QStringLiteral("<p>payload: pts %1").arg(pts == proto::kNoPts ? QStringLiteral("none")
                                                                            : locale.toString(pts) + QStringLiteral(" µs"));
        if (m.type == quint8(proto::MessageType::Audio) && payload.size() >= proto::kAudioPrefixSize)
            html += QStringLiteral(", skip %1 samples at the start, %2 at the end")
                        .arg(qFromBigEndian<quint32>(payload.constData() + 8))
                        .arg(qFromBigEndian<quint32>(payload.constData() + 12));
        html += QStringLiteral("</p>");
    }
    // The header and the payload's first bytes coloured byte by byte; the
    // rest plain, 16 bytes a line, up to kDetailDumpLimit (a text pane of
    // megabytes of hex would take seconds to lay out).
    constexpr int kColoured = proto::kHeaderSize + 40;
    constexpr int kDetailDumpLimit = 256 * 1024;
    const int shown = qMin(int(b.size()), kDetailDumpLimit);
    html += QStringLiteral("<pre>");
    for (int at = 0; at < qMin(shown, kColoured); at += 8) {
        html += QStringLiteral("%1  ").arg(at, 6, 10, QLatin1Char('0'));
        for (int i = at; i < qMin(at + 8, qMin(shown, kColoured)); ++i) {
            const HeaderField *f = headerFieldAt(i);
            html += QStringLiteral("<span style='background:%1;color:black'>%2</span> ")
                        .arg((f ? f->colour : payloadColour()).name(), hexBytes(b.mid(i, 1)));
        }
        html += QLatin1Char('\n');
    }
    for (int at = kColoured; at < shown; at += 16)
        html += QStringLiteral("%1  %2\n").arg(at, 6, 10, QLatin1Char('0')).arg(hexBytes(b.mid(at, qMin(16, shown - at))));
    html += QStringLiteral("</pre>");
    const qint64 whole = qint64(proto::kHeaderSize) + m.length;
    if (b.size() < whole)
        html += QStringLiteral("<p>%1 of the message's %2 bytes are kept: the header and the start of the payload. "
                               "Messages are kept whole while this view is open, up to %3 MiB of them; "
                               "this one arrived before it opened, or is among the oldest.</p>")
                    .arg(locale.toString(b.size()), locale.toString(whole))
                    .arg(trace::Tracer::kWholeBytesBudget / (1024 * 1024));
    else if (shown < b.size())
        html += QStringLiteral("<p>The whole message is kept, %1 bytes; the first %2 are shown.</p>")
                    .arg(locale.toString(whole), locale.toString(shown));
    else
        html += QStringLiteral("<p>The whole message: %1 bytes.</p>").arg(locale.toString(whole));
    return html;
}

} // namespace h264link::inside
