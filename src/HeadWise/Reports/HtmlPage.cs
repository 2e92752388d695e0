using System.Net;
using System.Text;
using System.Text.Json;

namespace HeadWise.Reports;

/// <summary>
/// One self-contained HTML page: styles, data (JSON in a script element) and script inline, nothing fetched, so the file
/// opens anywhere, offline, and can be mailed. The shared colour scale and hover panel live here.
/// </summary>
internal static class HtmlPage
{
    public static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static string E(string s) => WebUtility.HtmlEncode(s);

    /// <summary>Writes the page; <paramref name="data"/> is serialised as JSON and read by the script as <c>DATA</c>.</summary>
    public static void Write(string path, string title, string body, object data, string script, string css = "")
    {
        var json = JsonSerializer.Serialize(data, Json).Replace("</", "<\\/");
        var sb = new StringBuilder();
        sb.Append("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">")
          .Append($"<title>{E(title)}</title><style>{BaseCss}{css}</style></head><body>")
          .Append(body)
          .Append($"<script type=\"application/json\" id=\"data\">{json}</script>")
          .Append($"<script>\"use strict\";const DATA=JSON.parse(document.getElementById('data').textContent);{BaseScript}{script}</script>")
          .Append("</body></html>");
        File.WriteAllText(path, sb.ToString());
    }

    private const string BaseCss =
        "body{font-family:system-ui,sans-serif;margin:20px;color:#222;background:#fff}h1{margin:0 0 4px}h2{margin:24px 0 6px}" +
        ".meta{color:#555;margin-bottom:12px}.panel{position:sticky;top:0;background:#f4f6fa;border:1px solid #ccd;border-radius:6px;" +
        "padding:8px 10px;margin:8px 0;min-height:2.6em;font-size:14px;z-index:2}table{border-collapse:collapse;font-size:12px}" +
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}th{background:#eee}a{color:#1a5fb4}" +
        "select,button{font:inherit}.note{font-size:12px;color:#555}";

    // viridis(t): five stops of matplotlib's viridis, linearly interpolated; text colour that stays readable on it.
    private const string BaseScript =
        "const VIR=[[68,1,84],[59,82,139],[33,145,140],[94,201,98],[253,231,37]];" +
        "function viridis(t){t=Math.max(0,Math.min(1,isFinite(t)?t:0))*4;const i=Math.min(3,Math.floor(t)),f=t-i,a=VIR[i],b=VIR[i+1];" +
        "return 'rgb('+a.map((v,k)=>Math.round(v+(b[k]-v)*f)).join(',')+')';}" +
        "function ink(t){return t>0.6?'#000':'#fff';}" +
        "function fmt(v){return v===null||v===undefined||!isFinite(v)?'–':Math.abs(v)>=100?v.toFixed(0):Math.abs(v)>=1?v.toFixed(2):v.toFixed(3);}" +
        "function esc(s){return String(s).replace(/[&<>\"]/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','\"':'&quot;'}[c]));}";
}
