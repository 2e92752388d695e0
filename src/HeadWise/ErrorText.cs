using System.Text;

namespace HeadWise;

/// <summary>
/// Error text that stays one line on the user's terminal: strings taken from files are quoted with control characters
/// escaped and long values cut (<see cref="Quote"/>), and the CLI passes every message through <see cref="OneLine"/>.
/// </summary>
public static class ErrorText
{
    /// <summary>The longest error line the CLI prints; the rest is cut.</summary>
    public const int MaxLine = 2000;
    /// <summary>The longest string from a file that a message quotes whole.</summary>
    public const int MaxQuoted = 120;

    /// <summary>A string from a file, in single quotes, control characters escaped, cut after <paramref name="max"/> characters.</summary>
    public static string Quote(string? value, int max = MaxQuoted)
    {
        if (value is null) return "(none)";
        var cut = value.Length > max;
        var text = Escape(cut ? value[..max] : value);
        return cut ? $"'{text}...' ({value.Length:N0} characters)" : $"'{text}'";
    }

    /// <summary>The message on one line: control characters (newlines, ANSI escapes, ...) escaped, cut at <see cref="MaxLine"/>.</summary>
    public static string OneLine(string message)
    {
        var text = Escape(message);
        return text.Length <= MaxLine ? text : text[..MaxLine] + " ...";
    }

    private static string Escape(string s)
    {
        if (!s.Any(NeedsEscape)) return s;
        var sb = new StringBuilder(s.Length + 8);
        foreach (var c in s)
            sb.Append(c switch
            {
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                _ when NeedsEscape(c) => c <= 0xFF ? $"\\x{(int)c:X2}" : $"\\u{(int)c:X4}",
                _ => c.ToString(),
            });
        return sb.ToString();
    }

    // C0/C1 controls and DEL, line/paragraph separators, and the bidirectional overrides that reorder what follows.
    private static bool NeedsEscape(char c) =>
        char.IsControl(c) || c is '\u2028' or '\u2029' || c is >= '\u202A' and <= '\u202E' || c is >= '\u2066' and <= '\u2069';
}
