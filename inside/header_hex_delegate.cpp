#include "header_hex_delegate.h"

#include "event_text.h"
#include "timeline_model.h"

#include <QPainter>

namespace h264link::inside {
namespace {

// A little smaller than the row's text, so that the whole 24-byte header fits beside the other columns.
QFont hexFont(QFont font)
{
    font.setPointSizeF(font.pointSizeF() * 0.8);
    return font;
}

} // namespace

void HeaderHexDelegate::paint(QPainter *painter, const QStyleOptionViewItem &option,
                              const QModelIndex &index) const
{
    const QByteArray bytes = index.data(TimelineModel::BytesRole).toByteArray();
    if (bytes.isEmpty()) {
        QStyledItemDelegate::paint(painter, option, index);
        return;
    }
    painter->save();
    if (option.state & QStyle::State_Selected)
        painter->fillRect(option.rect, option.palette.highlight());
    const QFont font = hexFont(option.font);
    painter->setFont(font);
    const QFontMetrics metrics(font);
    const int cell = metrics.horizontalAdvance(QStringLiteral("00")) + 4;
    const QRect r = option.rect.adjusted(2, 2, -2, -2);
    for (int i = 0; i < bytes.size(); ++i) {
        const QRect box(r.left() + i * cell, r.top(), cell - 2, r.height());
        if (box.left() > r.right())
            break;
        const HeaderField *field = headerFieldAt(i);
        painter->fillRect(box, field ? field->colour : payloadColour());
        painter->setPen(Qt::black);
        painter->drawText(box, Qt::AlignCenter, hexBytes(bytes.mid(i, 1)));
    }
    painter->restore();
}

QSize HeaderHexDelegate::sizeHint(const QStyleOptionViewItem &option, const QModelIndex &index) const
{
    const QByteArray bytes = index.data(TimelineModel::BytesRole).toByteArray();
    const QFontMetrics metrics(hexFont(option.font));
    return {(metrics.horizontalAdvance(QStringLiteral("00")) + 4) * int(bytes.size()) + 4, metrics.height() + 6};
}

} // namespace h264link::inside
