// ZKTools: offline data-directory tools (see DataCommand in the paddock executable).
