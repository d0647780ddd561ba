/* placeholder: being written; fails until then */
int main(void);
int main(void) { return 1; }
