// DiscoveredServicesList: the senders or receivers found on the LAN
// (ServiceBrowser), one row each: name, host, address:port, and a lock
// where an access key is needed. Double-click or the action button picks
// one. Without an Avahi daemon it shows only its title, which says so:
// typing an address works as before.
#pragma once

#include "service_browser.h"

#include <QWidget>

class QLabel;
class QListWidget;
class QPushButton;

namespace h264link {

class DiscoveredServicesList : public QWidget {
    Q_OBJECT
public:
    // `title`, e.g. "Receivers on this network"; `action`, the button's text.
    DiscoveredServicesList(const QString &title, const QString &action, QWidget *parent = nullptr);

    // Follows a browser made (and owned) here for `role`. Without this call
    // the list is fed by hand (tests).
    void browse(const QString &role);

    int count() const;
    // The row's text (for tests and screen readers).
    QString rowText(int row) const;

public slots:
    void add(const DiscoveredService &service); // new, or changed (same name)
    void remove(const QString &name);
    void setUnavailable(); // no Avahi daemon

signals:
    void picked(const DiscoveredService &service);

private:
    void pickCurrent();
    int rowOf(const QString &name) const;

    QString m_title;
    QLabel *m_heading;
    QListWidget *m_list;
    QPushButton *m_action;
    QList<DiscoveredService> m_services; // row by row, as shown
};

} // namespace h264link
