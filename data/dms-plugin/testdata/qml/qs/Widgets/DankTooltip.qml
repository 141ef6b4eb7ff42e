import QtQuick
// Stand-in: DMS's DankTooltip (a layer-shell window): show() records
// the text.
Item {
    property string text: ""
    function show(text, x, y, screen, alignLeft, alignRight) { this.text = text; }
    function hide() {}
}
