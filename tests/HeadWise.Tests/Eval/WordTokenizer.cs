using HeadWise.Tokenizers;

namespace HeadWise.Tests.Eval;

/// <summary>
/// A test vocabulary of whole words: each new word gets the next id (0 BOS, 1 EOS), decoding joins words with a space,
/// so token counts and decoded text are known by hand. Text containing <paramref name="silent"/> encodes to no token.
/// </summary>
internal sealed class WordTokenizer(string? silent = null) : ITokenizer
{
    private readonly Dictionary<string, int> _ids = new(StringComparer.Ordinal);
    private readonly List<string> _words = ["<s>", "</s>"];

    public string Kind => "words";
    public int VocabSize => 4096;
    public int? BosId => 0;
    public int? EosId => 1;
    public bool AddBosByDefault => true;

    public IReadOnlyList<int> Encode(string text, bool addBos)
    {
        var ids = new List<int>();
        if (addBos) ids.Add(0);
        if (silent is not null && text.Contains(silent, StringComparison.Ordinal)) return ids;
        foreach (var w in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!_ids.TryGetValue(w, out int id)) { id = _words.Count; _ids[w] = id; _words.Add(w); }
            ids.Add(id);
        }
        return ids;
    }

    public string Decode(IEnumerable<int> ids) => string.Join(" ", ids.Where(i => i > 1).Select(i => _words[i]));
    public string TokenLabel(int id) => _words[id];
}
