using System.Text.RegularExpressions;

namespace HeadWise.Tokenizers;

/// <summary>
/// Cuts text at occurrences of special tokens (control / user-defined pieces), as llama.cpp does when it parses
/// special tokens: the pieces between matches are ordinary text for the BPE model, each match is one token id.
/// </summary>
internal sealed class SpecialTokenSplitter
{
    private readonly Regex? _regex;
    private readonly Dictionary<string, int> _ids = new(StringComparer.Ordinal);

    public SpecialTokenSplitter(IEnumerable<(string Text, int Id)> specials)
    {
        foreach (var (text, id) in specials)
            if (text.Length > 0) _ids[text] = id;   // a later duplicate wins, as in llama.cpp's token_to_id map
        if (_ids.Count == 0) return;
        // Longest first, so that "<|endoftext|>" wins over a shorter token that is its prefix.
        var alternatives = _ids.Keys.OrderByDescending(k => k.Length).ThenBy(k => k, StringComparer.Ordinal).Select(Regex.Escape);
        _regex = new Regex(string.Join("|", alternatives), RegexOptions.CultureInvariant);
    }

    /// <summary>Calls <paramref name="onText"/> for each run of ordinary text and <paramref name="onSpecial"/> for each special token, in order.</summary>
    public void Split(string text, Action<string> onText, Action<int> onSpecial)
    {
        if (_regex is null) { if (text.Length > 0) onText(text); return; }
        int pos = 0;
        for (var m = _regex.Match(text); m.Success; m = m.NextMatch())
        {
            if (m.Index > pos) onText(text.Substring(pos, m.Index - pos));
            onSpecial(_ids[m.Value]);
            pos = m.Index + m.Length;
        }
        if (pos < text.Length) onText(pos == 0 ? text : text.Substring(pos));
    }
}
