"use strict";
EL.setLive("", "");
