/*
 * Why this exists: with security on, Elasticsearch keeps native roles and API keys in its `.security`
 * system index, whose settings define an `email` analyzer out of the `uax_url_email` tokenizer and the
 * `pattern_capture` and `unique` token filters. Those come from the `analysis-common` module, which the
 * integ-test-zip distribution leaves out, so the index cannot be created and every role or API-key request
 * fails with "Unknown filter type [pattern_capture]". These three factories, over Lucene's own classes
 * (lucene-analysis-common ships in the server's lib), let the local node create it. Only these three, and
 * only under their usual names and settings: a real distribution has them from analysis-common.
 */
package esimagesearch.rootinfo;

import org.apache.lucene.analysis.CharArraySet;
import org.apache.lucene.analysis.TokenFilter;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.Tokenizer;
import org.apache.lucene.analysis.email.UAX29URLEmailTokenizer;
import org.apache.lucene.analysis.pattern.PatternCaptureGroupTokenFilter;
import org.apache.lucene.analysis.tokenattributes.CharTermAttribute;
import org.apache.lucene.analysis.tokenattributes.PositionIncrementAttribute;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.index.analysis.TokenFilterFactory;
import org.elasticsearch.index.analysis.TokenizerFactory;
import org.elasticsearch.indices.analysis.AnalysisModule.AnalysisProvider;
import org.elasticsearch.plugins.AnalysisPlugin;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

final class SecurityIndexAnalysis {

    private SecurityIndexAnalysis() {}

    static Map<String, AnalysisProvider<TokenFilterFactory>> tokenFilters() {
        return Map.of(
            // Only with an index's settings: it has no meaning without its patterns.
            "pattern_capture", AnalysisPlugin.requiresAnalysisSettings(
                (indexSettings, environment, name, settings) -> patternCapture(name, settings)),
            "unique", (indexSettings, environment, name, settings) -> unique(name, settings)
        );
    }

    static Map<String, AnalysisProvider<TokenizerFactory>> tokenizers() {
        return Map.of("uax_url_email", (indexSettings, environment, name, settings) -> {
            int maxTokenLength = settings.getAsInt("max_token_length", 255);
            return TokenizerFactory.newFactory(name, () -> {
                UAX29URLEmailTokenizer tokenizer = new UAX29URLEmailTokenizer();
                tokenizer.setMaxTokenLength(maxTokenLength);
                return tokenizer;
            });
        });
    }

    private static TokenFilterFactory patternCapture(String name, Settings settings) {
        List<String> regexes = settings.getAsList("patterns");
        if (regexes.isEmpty()) {
            throw new IllegalArgumentException("pattern_capture [" + name + "] needs at least one pattern");
        }
        Pattern[] patterns = regexes.stream().map(Pattern::compile).toArray(Pattern[]::new);
        boolean preserveOriginal = settings.getAsBoolean("preserve_original", true);
        return factory(name, stream -> new PatternCaptureGroupTokenFilter(stream, preserveOriginal, patterns));
    }

    private static TokenFilterFactory unique(String name, Settings settings) {
        boolean samePositionOnly = settings.getAsBoolean("only_on_same_position", false);
        return factory(name, stream -> new UniqueTokenFilter(stream, samePositionOnly));
    }

    /** A filter factory under `name` that wraps each stream with `wrap` (CjkAnalysis uses it too). */
    static TokenFilterFactory factory(String name, java.util.function.UnaryOperator<TokenStream> wrap) {
        return new TokenFilterFactory() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public TokenStream create(TokenStream tokenStream) {
                return wrap.apply(tokenStream);
            }
        };
    }

    /** Drops a term seen before in the stream (or, with samePositionOnly, at the same position). */
    static final class UniqueTokenFilter extends TokenFilter {
        private final CharTermAttribute term = addAttribute(CharTermAttribute.class);
        private final PositionIncrementAttribute increment = addAttribute(PositionIncrementAttribute.class);
        private final CharArraySet seen = new CharArraySet(8, false);
        private final boolean samePositionOnly;

        UniqueTokenFilter(TokenStream input, boolean samePositionOnly) {
            super(input);
            this.samePositionOnly = samePositionOnly;
        }

        @Override
        public boolean incrementToken() throws IOException {
            while (input.incrementToken()) {
                if (samePositionOnly && increment.getPositionIncrement() > 0) {
                    seen.clear();
                }
                char[] copy = new char[term.length()];
                System.arraycopy(term.buffer(), 0, copy, 0, term.length());
                if (seen.add(copy)) {
                    return true;
                }
            }
            return false;
        }

        @Override
        public void reset() throws IOException {
            super.reset();
            seen.clear();
        }
    }
}
