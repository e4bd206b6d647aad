// Paints a message's first bytes in the timeline, each byte on the colour of
// the header field it belongs to (event_text.h headerFields(); the payload
// in grey), so the 24-byte header reads field by field without a ruler.
#pragma once

#include <QStyledItemDelegate>

namespace h264link::inside {

class HeaderHexDelegate : public QStyledItemDelegate {
    Q_OBJECT
public:
    using QStyledItemDelegate::QStyledItemDelegate;
    void paint(QPainter *painter, const QStyleOptionViewItem &option, const QModelIndex &index) const override;
    QSize sizeHint(const QStyleOptionViewItem &option, const QModelIndex &index) const override;
};

} // namespace h264link::inside
