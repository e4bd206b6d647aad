// One scrolling timeline of the Inside view: a table of the newest rows,
// at most maxRows() of them. Appending beyond that drops the oldest (the view
// is a live picture; the count of rows dropped is kept), so its memory stays
// flat however long the stream runs.
#pragma once

#include "io_trace.h"

#include <QAbstractTableModel>
#include <QColor>
#include <QStringList>
#include <deque>
#include <vector>

namespace h264link::inside {

class TimelineModel : public QAbstractTableModel {
    Q_OBJECT
public:
    struct Row {
        QStringList cells;
        QColor foreground;             // invalid: the view's text colour
        trace::WireMessage message{}; // message rows: what the detail pane shows
    };
    // Whole messages kept for the detail pane, at most: past it the oldest
    // rows keep only the message's first bytes.
    static constexpr qint64 kWholeBytesBudget = 32 * 1024 * 1024;
    // The hex column's bytes (QByteArray), for HeaderHexDelegate.
    static constexpr int BytesRole = Qt::UserRole + 1;

    TimelineModel(QStringList columns, int maxRows, QObject *parent = nullptr);

    void append(std::vector<Row> rows); // oldest first, as takeEvents() gives them
    const Row &row(int index) const { return m_rows[size_t(index)]; }
    int maxRows() const { return m_maxRows; }
    quint64 rowsDropped() const { return m_dropped; }
    // The rows whose cells, joined by "  ", match `pattern`: what a test and a
    // person can search for.
    int countMatching(const QString &pattern) const;

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

private:
    QStringList m_columns;
    int m_maxRows;
    std::deque<Row> m_rows;
    quint64 m_dropped = 0;
};

} // namespace h264link::inside
