#include "discovered_services_list.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QPushButton>
#include <QVBoxLayout>

#include <algorithm>

namespace h264link {

namespace {
QString textOf(const DiscoveredService &s)
{
    // U+1F512 (a lock): the other side wants the access key.
    return QStringLiteral("%1 — %2 (%3)%4")
        .arg(s.name, s.host, s.hostPort(), s.keyNeeded ? QStringLiteral("  \U0001F512 key") : QString());
}
} // namespace

DiscoveredServicesList::DiscoveredServicesList(const QString &title, const QString &action, QWidget *parent)
    : QWidget(parent), m_title(title), m_heading(new QLabel(title, this)), m_list(new QListWidget(this)),
      m_action(new QPushButton(action, this))
{
    m_list->setObjectName(QStringLiteral("discoveredServices"));
    m_list->setSelectionMode(QAbstractItemView::SingleSelection);
    m_action->setEnabled(false);
    auto *row = new QHBoxLayout;
    row->addWidget(m_list, 1);
    row->addWidget(m_action, 0, Qt::AlignTop);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_heading);
    layout->addLayout(row);
    connect(m_list, &QListWidget::currentRowChanged, this, [this](int r) { m_action->setEnabled(r >= 0); });
    connect(m_list, &QListWidget::itemActivated, this, &DiscoveredServicesList::pickCurrent);
    connect(m_action, &QPushButton::clicked, this, &DiscoveredServicesList::pickCurrent);
}

void DiscoveredServicesList::browse(const QString &role)
{
    auto *browser = new ServiceBrowser(role, this);
    connect(browser, &ServiceBrowser::found, this, &DiscoveredServicesList::add);
    connect(browser, &ServiceBrowser::lost, this, &DiscoveredServicesList::remove);
    connect(browser, &ServiceBrowser::unavailable, this, &DiscoveredServicesList::setUnavailable);
    for (const DiscoveredService &s : browser->services())
        add(s);
    if (!browser->available())
        setUnavailable();
}

int DiscoveredServicesList::count() const
{
    return m_list->count();
}

QString DiscoveredServicesList::rowText(int row) const
{
    const QListWidgetItem *item = m_list->item(row);
    return item ? item->text() : QString();
}

int DiscoveredServicesList::rowOf(const QString &name) const
{
    for (int i = 0; i < m_services.size(); ++i)
        if (m_services[i].name == name)
            return i;
    return -1;
}

void DiscoveredServicesList::add(const DiscoveredService &service)
{
    m_heading->setText(m_title);
    m_list->show();
    m_action->show();
    const int existing = rowOf(service.name);
    if (existing >= 0) {
        m_services[existing] = service;
        m_list->item(existing)->setText(textOf(service));
        return;
    }
    // Sorted by name, so that rows do not jump about as answers come in.
    const auto at = std::lower_bound(m_services.begin(), m_services.end(), service,
                                     [](const DiscoveredService &a, const DiscoveredService &b) {
                                         return a.name.localeAwareCompare(b.name) < 0;
                                     });
    const int row = int(at - m_services.begin());
    m_services.insert(row, service);
    m_list->insertItem(row, textOf(service));
}

void DiscoveredServicesList::remove(const QString &name)
{
    const int row = rowOf(name);
    if (row < 0)
        return;
    m_services.removeAt(row);
    delete m_list->takeItem(row);
}

void DiscoveredServicesList::setUnavailable()
{
    // Only the line: an empty list would take the room for nothing.
    m_heading->setText(tr("%1: none (no Avahi daemon here: type the address)").arg(m_title));
    if (m_services.isEmpty()) {
        m_list->hide();
        m_action->hide();
    }
}

void DiscoveredServicesList::pickCurrent()
{
    const int row = m_list->currentRow();
    if (row >= 0 && row < m_services.size())
        emit picked(m_services[row]);
}

} // namespace h264link
