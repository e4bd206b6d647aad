// The sender window with several receivers: it lists each (address, state,
// lag, skipped, bit rate), and Disconnect drops the one chosen, which is told
// why, while the other gets every frame (ffmpeg's framemd5).
#include "app_runner.h"
#include "test_support.h"
#include "ui/sender_window.h"

#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QTemporaryDir>
#include <QTreeWidget>
#include <QtTest>

using namespace h264link;
using namespace testsupport;

class TestFanoutWindow : public QObject {
    Q_OBJECT
private slots:
    void listsReceiversAndDisconnectsOne();
};

void TestFanoutWindow::listsReceiversAndDisconnectsOne()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    GopClip clip;
    const QString error = makeGopClip(dir.filePath("gop.mp4"), 25, 5.0, &clip);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    const QString md5a = dir.filePath("a.md5"), md5b = dir.filePath("b.md5");
    ReceiverProcess a({"--once", "--framemd5", md5a});
    ReceiverProcess b({"--once", "--framemd5", md5b});
    QVERIFY(a.port() && b.port());
    SenderOptions options;
    options.file = clip.path;
    options.host = QStringLiteral("127.0.0.1:%1,127.0.0.1:%2").arg(a.port()).arg(b.port());
    SenderWindow window(options);
    window.show();
    window.start();
    auto *list = window.findChild<QTreeWidget *>();
    QVERIFY(list);
    QTRY_VERIFY_WITH_TIMEOUT(list->topLevelItemCount() == 2 && list->topLevelItem(1)->text(2) == "streaming", 15000);
    QVERIFY(list->isVisible());
    QVERIFY(list->topLevelItem(1)->text(1).endsWith(QStringLiteral(":%1").arg(b.port())));
    list->topLevelItem(1)->setSelected(true);
    QPushButton *disconnect = nullptr;
    for (QPushButton *button : window.findChildren<QPushButton *>())
        if (button->text() == QLatin1String("Disconnect"))
            disconnect = button;
    QVERIFY(disconnect && disconnect->isEnabled());
    disconnect->click();
    QTRY_VERIFY_WITH_TIMEOUT(b.process().state() == QProcess::NotRunning, 15000);
    QVERIFY2(b.output().contains(QLatin1String("disconnected by the sender")), qPrintable(b.output()));
    QTRY_VERIFY_WITH_TIMEOUT(list->topLevelItem(1)->text(2) == "dropped", 5000);
    QTRY_VERIFY_WITH_TIMEOUT(a.process().state() == QProcess::NotRunning, 30000);
    QCOMPARE(a.process().exitCode(), 0);
    QCOMPARE(md5Column(readFile(md5a)), clip.reference);
}

QTEST_MAIN(TestFanoutWindow)
#include "tst_fanout_window.moc"
