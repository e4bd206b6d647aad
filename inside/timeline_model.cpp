#include "timeline_model.h"

#include <QRegularExpression>

namespace h264link::inside {

TimelineModel::TimelineModel(QStringList columns, int maxRows, QObject *parent)
    : QAbstractTableModel(parent), m_columns(std::move(columns)), m_maxRows(maxRows)
{
}

void TimelineModel::append(std::vector<Row> rows)
{
    if (rows.empty())
        return;
    // A burst larger than the bound: only its newest rows could stay anyway.
    auto first = rows.begin();
    if (int(rows.size()) > m_maxRows) {
        m_dropped += rows.size() - size_t(m_maxRows);
        first = rows.end() - m_maxRows;
    }
    const int adding = int(rows.end() - first);
    const int removing = std::max(0, int(m_rows.size()) + adding - m_maxRows);
    if (removing > 0) {
        beginRemoveRows({}, 0, removing - 1);
        m_rows.erase(m_rows.begin(), m_rows.begin() + removing);
        m_dropped += quint64(removing);
        endRemoveRows();
    }
    beginInsertRows({}, int(m_rows.size()), int(m_rows.size()) + adding - 1);
    m_rows.insert(m_rows.end(), std::make_move_iterator(first), std::make_move_iterator(rows.end()));
    endInsertRows();
    // The oldest rows give up their whole message first (their head stays).
    qint64 whole = 0;
    for (const Row &r : m_rows)
        whole += r.message.whole.size();
    for (auto it = m_rows.begin(); whole > kWholeBytesBudget && it != m_rows.end(); ++it) {
        whole -= it->message.whole.size();
        it->message.whole.clear();
    }
}

int TimelineModel::countMatching(const QString &pattern) const
{
    const QRegularExpression re(pattern);
    int n = 0;
    for (const Row &r : m_rows)
        n += re.match(r.cells.join(QStringLiteral("  "))).hasMatch();
    return n;
}

int TimelineModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int TimelineModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_columns.size());
}

QVariant TimelineModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= int(m_rows.size()))
        return {};
    const Row &r = m_rows[size_t(index.row())];
    switch (role) {
    case Qt::DisplayRole:
        return index.column() < r.cells.size() ? r.cells[index.column()] : QString();
    case Qt::ForegroundRole:
        return r.foreground.isValid() ? QVariant(r.foreground) : QVariant();
    case BytesRole:
        return r.message.head;
    default:
        return {};
    }
}

QVariant TimelineModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation == Qt::Horizontal && role == Qt::DisplayRole && section < m_columns.size())
        return m_columns[section];
    return {};
}

} // namespace h264link::inside
