"""What the user sees: the ``report`` a cell flow sends, as a ``statusline`` on stderr or a status ``panel``
(``progress`` while saving), ``%cache_info`` (``listing``) and the store browser in the sidebar (``sidebar``)."""
