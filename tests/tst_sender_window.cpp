// The sender window offers the last stream again: the file, host, port and
// key file it saved (QSettings, in a temporary XDG_CONFIG_HOME) are in its
// fields when it opens with nothing given, and what the command line gives
// wins over them. (tst_sender_terminal checks what a real stream saves.)
#include "ui/sender_window.h"

#include <QLineEdit>
#include <QSettings>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QtTest>

using namespace h264link;

class TestSenderWindow : public QObject {
    Q_OBJECT
private slots:
    void initTestCase()
    {
        QVERIFY(m_config.isValid());
        qputenv("XDG_CONFIG_HOME", QFile::encodeName(m_config.path())); // before any QSettings
        QCoreApplication::setOrganizationName("h264link"); // as the sender's main() names them
        QCoreApplication::setApplicationName("sender");
        QSettings saved;
        saved.setValue("source/kind", "file");
        saved.setValue("source/file", m_file);
        saved.setValue("receiver/host", m_host);
        saved.setValue("receiver/port", m_port);
        saved.setValue("receiver/keyFile", m_keyFile);
        saved.sync();
        QCOMPARE(saved.status(), QSettings::NoError);
        QVERIFY(saved.fileName().startsWith(m_config.path()));
    }

    void opensWithTheLastStream()
    {
        SenderOptions nothingGiven;
        nothingGiven.host.clear();
        nothingGiven.port = 0;
        SenderWindow window(nothingGiven);
        QVERIFY(hasField(window, m_file));
        QVERIFY(hasField(window, m_host));
        QVERIFY(hasField(window, m_keyFile));
        QCOMPARE(portField(window), int(m_port));
    }

    void theCommandLineWins()
    {
        SenderOptions given;
        given.file = QStringLiteral("/tmp/other.mp4");
        given.host = QStringLiteral("127.0.0.2");
        given.port = 8300;
        SenderWindow window(given);
        QVERIFY(hasField(window, given.file));
        QVERIFY(hasField(window, given.host));
        QVERIFY(!hasField(window, m_file));
        QVERIFY(!hasField(window, m_host));
        QCOMPARE(portField(window), 8300);
    }

private:
    static bool hasField(const QWidget &window, const QString &text)
    {
        const auto edits = window.findChildren<QLineEdit *>();
        return std::any_of(edits.begin(), edits.end(), [&](const QLineEdit *e) { return e->text() == text; });
    }
    static int portField(const QWidget &window)
    {
        for (const QSpinBox *box : window.findChildren<QSpinBox *>()) {
            if (box->maximum() == 65535)
                return box->value();
        }
        return -1;
    }

    QTemporaryDir m_config;
    const QString m_file = QStringLiteral("/srv/lessons/week3.mp4");
    const QString m_host = QStringLiteral("192.0.2.44"); // documentation range: never contacted
    const quint16 m_port = 8411;
    const QString m_keyFile = QStringLiteral("/srv/lessons/key.txt");
};

QTEST_MAIN(TestSenderWindow)
#include "tst_sender_window.moc"
