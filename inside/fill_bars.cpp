#include "fill_bars.h"

#include <QLocale>
#include <QPainter>

namespace h264link::inside {
namespace {

QString amount(qint64 value, const QString &unit)
{
    const QLocale locale;
    if (unit == QLatin1String("bytes"))
        return locale.formattedDataSize(value, 1, QLocale::DataSizeSIFormat);
    return QStringLiteral("%1 %2").arg(locale.toString(value), unit);
}

} // namespace

FillBars::FillBars(QWidget *parent) : QWidget(parent)
{
    setSizePolicy(QSizePolicy::Preferred, QSizePolicy::Fixed);
}

void FillBars::setFills(std::vector<trace::Fill> fills)
{
    const bool resized = fills.size() != m_fills.size();
    m_fills = std::move(fills);
    if (resized)
        updateGeometry();
    update();
}

QString FillBars::label(const trace::Fill &f)
{
    return QStringLiteral("%1   %2 / %3").arg(f.name, amount(f.used, f.unit), amount(f.capacity, f.unit));
}

int FillBars::barHeight() const
{
    return fontMetrics().height() + 10;
}

QSize FillBars::sizeHint() const
{
    const int rows = std::max<int>(1, int(m_fills.size()));
    return {600, rows * (barHeight() + 4) + 4};
}

void FillBars::paintEvent(QPaintEvent *)
{
    QPainter p(this);
    p.fillRect(rect(), palette().window());
    if (m_fills.empty()) {
        p.setPen(palette().color(QPalette::WindowText));
        p.drawText(rect().adjusted(8, 0, 0, 0), Qt::AlignVCenter | Qt::AlignLeft,
                   tr("No bounded hand-off is reporting yet (they appear once a stream runs)."));
        return;
    }
    const int h = barHeight();
    int y = 4;
    for (const trace::Fill &f : m_fills) {
        const QRect bar(4, y, width() - 8, h);
        p.fillRect(bar, QColor(0x37, 0x47, 0x4f));
        const double share = f.capacity > 0 ? std::clamp(double(f.used) / double(f.capacity), 0.0, 1.0) : 0.0;
        // Green while there is room, amber past half, red when nearly full: where a stage is about to wait.
        const QColor colour = share > 0.9 ? QColor(0xc6, 0x28, 0x28) : share > 0.5 ? QColor(0xe6, 0x51, 0x00)
                                                                                   : QColor(0x2e, 0x7d, 0x32);
        p.fillRect(QRect(bar.left(), bar.top(), int(bar.width() * share), bar.height()), colour);
        p.setPen(Qt::white);
        p.drawText(bar.adjusted(8, 0, -8, 0), Qt::AlignVCenter | Qt::AlignLeft, label(f));
        y += h + 4;
    }
}

} // namespace h264link::inside
