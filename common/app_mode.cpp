#include "app_mode.h"

#include <QApplication>
#include <cstring>

namespace h264link {

bool argvContains(int argc, char **argv, std::initializer_list<const char *> options)
{
    for (int i = 1; i < argc; ++i) {
        for (const char *option : options) {
            if (std::strcmp(argv[i], option) == 0)
                return true;
        }
    }
    return false;
}

std::unique_ptr<QCoreApplication> makeApplication(int &argc, char **argv, bool gui)
{
    if (gui)
        return std::make_unique<QApplication>(argc, argv);
    return std::make_unique<QCoreApplication>(argc, argv);
}

} // namespace h264link
