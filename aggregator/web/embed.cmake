# Writes OUT: the dashboard page (aggregator/web/dashboard.html with uPlot's CSS and script and
# dashboard.js inlined) as the C string slt_dashboard_html. Run by aggregator/CMakeLists.txt
# at build time when one of the files changes: cmake -DWEB=<dir> -DOUT=<file> -P embed.cmake
file(READ ${WEB}/dashboard.html page)
file(READ ${WEB}/dashboard.js js)
file(READ ${WEB}/vendor/uPlot.iife.min.js ujs)
file(READ ${WEB}/vendor/uPlot.min.css ucss)
file(READ ${WEB}/package.json pkg)
string(JSON uver GET "${pkg}" dependencies uplot)
# a script may not hold "</script" (the HTML parser would end it there)
foreach(part js ujs)
  string(FIND "${${part}}" "</script" bad)
  if(NOT bad EQUAL -1)
    message(FATAL_ERROR "a dashboard script holds '</script'")
  endif()
endforeach()
string(REPLACE "@UPLOT_VERSION@" "${uver}" page "${page}")
string(REPLACE "@UPLOT_CSS@" "${ucss}" page "${page}")
string(REPLACE "@UPLOT_JS@" "${ujs}" page "${page}")
string(REPLACE "@DASHBOARD_JS@" "${js}" page "${page}")
file(WRITE ${OUT}.html "${page}")
file(READ ${OUT}.html hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "\\\\x\\1" esc "${hex}")
file(WRITE ${OUT}.tmp
     "/* Generated from aggregator/web by embed.cmake: do not edit. */\n"
     "#include \"api_internal.h\"\n\n"
     "const char slt_dashboard_html[] = \"${esc}\";\n\n"
     "size_t slt_dashboard_html_len(void)\n{\n    return sizeof(slt_dashboard_html) - 1;\n}\n")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
