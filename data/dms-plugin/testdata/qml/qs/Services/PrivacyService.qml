pragma Singleton
import QtQuick
// Stand-in: DMS's PipeWire view (Services/PrivacyService.qml).
QtObject {
    property bool cameraActive: false
    property bool microphoneActive: false
}
