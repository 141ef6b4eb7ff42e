import QtQuick
import qs.Common
// Stand-in: DMS's StyledText (from dank-qml-common). Its default text
// format is not known here: AutoText, Qt's default, is the dangerous one,
// so the stand-in keeps it and the plugin must set PlainText itself.
Text {
    color: Theme.surfaceText
    font.pixelSize: Theme.fontSizeMedium
    font.family: "DejaVu Sans"
}
