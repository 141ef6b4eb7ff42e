import QtQuick
Rectangle {}
